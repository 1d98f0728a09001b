"""The IMDB reviews: read the aclImdb layout (tarball or folder), or Keras's copy, and cache the arrays.

Encoding 50,000 raw reviews takes tens of seconds; the encoded arrays are cached under
``SENTIBOT_HOME/cache`` keyed by the dataset's fingerprint and the encoding settings, so a second
run loads them in about a second.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from model.encoding import ENCODING_VERSION, TextEncoder, tokenize
from model.errors import DatasetInvalid, DatasetNotFound, DatasetUnavailable
from model.recipes import Recipe

KERAS_SOURCE = "keras"  # the data "path" that means keras.datasets.imdb's download
SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
# <anything>/train/pos/123_9.txt; Stanford's full tarball also has train/unsup and .feat files: skipped.
_REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+)\.txt$")
_SENTENCE_BREAK = re.compile(r"<br\s*/?>|(?<=[.!?])\s+", re.IGNORECASE)
SENTENCE_WORDS = (3, 40)  # sentence examples: shorter ones say too little, longer ones are rare


@dataclass(frozen=True)
class Review:
    """One raw review and its label (1 positive, 0 negative)."""

    split: str
    label: int
    name: str
    text: str


@dataclass(frozen=True)
class RawImdb:
    """Raw texts and labels of both splits, in a stable order."""

    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]


@dataclass(frozen=True)
class EncodedImdb:
    """What training needs: padded id arrays, labels and the encoder that made them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_sentences: np.ndarray  # single training sentences (empty unless asked for)
    y_sentences: np.ndarray
    encoder: TextEncoder
    fingerprint: str  # identifies the dataset the arrays came from
    # the training review each sentence example was cut from, so reviews held out (the blend's dev reviews)
    # can leave with their sentences
    sentence_reviews: np.ndarray = field(default_factory=lambda: np.zeros(0, "int32"))

    def without_reviews(self, rows: np.ndarray) -> EncodedImdb:
        """The data with these training reviews, and every sentence cut from them, left out."""
        keep = np.setdiff1d(np.arange(len(self.y_train)), rows)
        sentences = ~np.isin(self.sentence_reviews, rows)
        return replace(
            self,
            x_train=self.x_train[keep],
            y_train=self.y_train[keep],
            x_sentences=self.x_sentences[sentences],
            y_sentences=self.y_sentences[sentences],
            sentence_reviews=self.sentence_reviews[sentences],
        )


# --- Reading the aclImdb layout -------------------------------------------------------------


def _sort_key(review: Review) -> tuple:
    stem = review.name.split("_")[0]
    return (review.split, -review.label, int(stem) if stem.isdigit() else 0, review.name)


def _read_tarball(path: Path) -> Iterator[Review]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                match = _REVIEW.search(member.name)
                if not member.isfile() or not match:
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    raise DatasetInvalid(f"Could not read {member.name} in {path}.")
                text = handle.read().decode("utf-8", errors="replace")
                yield Review(match[1], LABELS[match[2]], match[3], text)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DatasetInvalid(f"{path} is not a readable .tar.gz of the aclImdb data ({exc}).") from None


def _folder_root(path: Path) -> Path:
    for candidate in (path, path / "aclImdb"):
        if (candidate / "train").is_dir() or (candidate / "test").is_dir():
            return candidate
    raise DatasetInvalid(
        f"{path} is not in the aclImdb layout: expected train/pos, train/neg, test/pos and test/neg folders."
    )


def _review_files(root: Path) -> Iterator[tuple[str, str, Path]]:
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            if folder.is_dir():
                for entry in os.scandir(folder):
                    if entry.name.endswith(".txt") and (entry.is_file() or entry.is_symlink()):
                        yield split, label, Path(entry.path)


def _read_folder(path: Path) -> Iterator[Review]:
    for split, label, file in _review_files(_folder_root(path)):
        try:
            text = file.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise DatasetInvalid(f"Could not read {file}: {exc.strerror}.") from None
        yield Review(split, LABELS[label], file.stem, text)


def read_aclimdb(path: str | Path) -> RawImdb:
    """All labeled reviews of an aclImdb folder or tarball; raises a clear error on anything wrong."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetNotFound(
            f"No IMDB data at {path}: point IMDB_DATA or --data at the aclImdb folder or its .tar.gz."
        )
    reviews = sorted(_read_tarball(path) if path.is_file() else _read_folder(path), key=_sort_key)
    for split in SPLITS:
        for label_name, label in LABELS.items():
            if not any(r.split == split and r.label == label for r in reviews):
                raise DatasetInvalid(f"{path} has no reviews in {split}/{label_name}: is it the aclImdb layout?")
    train = [r for r in reviews if r.split == "train"]
    test = [r for r in reviews if r.split == "test"]
    return RawImdb(
        train_texts=[r.text for r in train],
        train_labels=[r.label for r in train],
        test_texts=[r.text for r in test],
        test_labels=[r.label for r in test],
    )


def fingerprint(path: str | Path) -> str:
    """A content hash of the dataset: the tarball's bytes, or a folder's review names, sizes and mtimes."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetNotFound(
            f"No IMDB data at {path}: point IMDB_DATA or --data at the aclImdb folder or its .tar.gz."
        )
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    for split, label, file in sorted(_review_files(_folder_root(path))):
        stat = file.stat()
        digest.update(f"{split}/{label}/{file.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


# --- Encoding and caching ---------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """The sentences of a review: split at line breaks and after '.', '!' or '?' followed by a space."""
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part and part.strip()]


def sentence_examples(raw: RawImdb) -> tuple[list[str], list[int], list[int]]:
    """Every training sentence of SENTENCE_WORDS words, labelled with its review's label, and the index
    of that review.

    People type one sentence into a chat; these teach a model what a single sentence of a
    positive or negative review looks like. Only the training split is used.
    """
    low, high = SENTENCE_WORDS
    texts: list[str] = []
    labels: list[int] = []
    origins: list[int] = []
    for index, (review, label) in enumerate(zip(raw.train_texts, raw.train_labels, strict=True)):
        for sentence in split_sentences(review):
            if low <= len(tokenize(sentence)) <= high:
                texts.append(sentence)
                labels.append(label)
                origins.append(index)
    return texts, labels, origins


def encode_raw(raw: RawImdb, recipe: Recipe, sentences: bool = False) -> tuple[np.ndarray, ...]:
    """Build the vocabulary on the training split and encode both splits (and the sentences) with it.

    A pretrained encoder brings its own word pieces: nothing is learnt from the data for those.
    """
    encoder = TextEncoder.learn(recipe.encoder_settings(), raw.train_texts)
    x_train = encoder.encode(raw.train_texts)
    x_test = encoder.encode(raw.test_texts)
    sentence_texts, sentence_labels, origins = sentence_examples(raw) if sentences else ([], [], [])
    x_sentences = encoder.encode(sentence_texts, recipe.sentence_width)
    return (
        x_train,
        np.asarray(raw.train_labels, "int32"),
        x_test,
        np.asarray(raw.test_labels, "int32"),
        x_sentences,
        np.asarray(sentence_labels, "int32"),
        encoder,
        np.asarray(origins, "int32"),
    )


def _cache_path(cache_dir: Path, dataset_hash: str, recipe: Recipe, sentences: bool) -> Path:
    settings = json.dumps(recipe.encoder_settings(), sort_keys=True)
    key = f"{dataset_hash}:{settings}:{sentences}:{recipe.sentence_width}:{ENCODING_VERSION}"
    return cache_dir / f"imdb-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def _save_cache(path: Path, data: EncodedImdb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=data.x_train,
        y_train=data.y_train,
        x_test=data.x_test,
        y_test=data.y_test,
        x_sentences=data.x_sentences,
        y_sentences=data.y_sentences,
        sentence_reviews=data.sentence_reviews,
        encoder=np.array(json.dumps(data.encoder.to_config())),
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file


def _load_cache(path: Path, dataset_hash: str) -> EncodedImdb | None:
    try:
        with np.load(path) as npz:
            encoder = TextEncoder.from_config(json.loads(str(npz["encoder"])))
            arrays = [npz[name] for name in ("x_train", "y_train", "x_test", "y_test", "x_sentences", "y_sentences")]
            origins = npz["sentence_reviews"]  # a cache written before it was kept: rebuilt
            return EncodedImdb(*arrays, encoder=encoder, fingerprint=dataset_hash, sentence_reviews=origins)
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged cache: rebuild it


def load_imdb(source: str | Path, cache_dir: Path, recipe: Recipe, sentences: bool = False) -> EncodedImdb:
    """Encoded IMDB for ``recipe`` from an aclImdb path (cached), or from Keras's download for "keras" or "".

    ``sentences`` adds the training reviews' single sentences as extra examples (aclImdb text only).
    """
    if not str(source) or str(source) == KERAS_SOURCE:
        if sentences:
            raise DatasetUnavailable(
                "Sentence examples need the review texts: set IMDB_DATA to a local aclImdb folder or tarball."
            )
        return load_keras_imdb(recipe)
    dataset_hash = fingerprint(source)
    cache = _cache_path(cache_dir, dataset_hash, recipe, sentences)
    cached = _load_cache(cache, dataset_hash)
    if cached is not None:
        return cached
    *arrays, encoder, origins = encode_raw(read_aclimdb(source), recipe, sentences)
    data = EncodedImdb(*arrays, encoder=encoder, fingerprint=dataset_hash, sentence_reviews=origins)
    _save_cache(cache, data)
    return data


def load_keras_imdb(recipe: Recipe) -> EncodedImdb:
    """The tutorial's own source: ``keras.datasets.imdb`` (downloads once, needs internet)."""
    from keras.datasets import imdb

    try:
        (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=recipe.num_words)
        word_index = imdb.get_word_index()
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        raise DatasetUnavailable(
            f"Could not download the IMDB data through Keras ({type(exc).__name__}); "
            "set IMDB_DATA or pass --data with the path of a local aclImdb folder or aclImdb_v1.tar.gz."
        ) from None
    words = tuple(word for word, _ in sorted(word_index.items(), key=lambda item: item[1]))
    encoder = TextEncoder(words=words[: recipe.num_words - 4], **recipe.encoder_settings())
    return EncodedImdb(
        encoder.rows(list(x_train)),
        np.asarray(y_train, "int32"),
        encoder.rows(list(x_test)),
        np.asarray(y_test, "int32"),
        np.zeros((0, encoder.maxlen), "int32"),
        np.zeros(0, "int32"),
        encoder,
        fingerprint=f"keras-imdb:{recipe.num_words}",
    )
