"""One text encoder, used both to build the training arrays and to encode a chat message.

Ids follow ``keras.datasets.imdb``: 0 padding, 1 start, 2 unknown word, 3 unused, and a word of
frequency rank r (1 = most frequent in the training split) gets id r + 3 while that is below
``num_words``. Two layouts turn those ids into a model row:

- ``sequence`` (the tutorial's): the ids in order, padded and truncated like
  ``keras.utils.pad_sequences``'s defaults ('pre'), so a short review sits at the end of the row.
- ``bag`` (fastText-style): each distinct word id plus each distinct hashed bigram (and, if
  asked, trigram) id ``num_words + bucket``, sorted, at the front of the row. Order-free, so a model reading it
  uses every weight for a one-line chat message, and "not bad" is a feature of its own.
- ``wordpiece`` (the pretrained encoder's): the ``tokenizers`` word pieces of the text between
  ``[CLS]`` and ``[SEP]``, padded at the end with 0 to the batch's longest row (rounded up to a
  multiple of 16, so few shapes are traced). The vocabulary is the tokenizer's, not the IMDB ranks.
  A text longer than the row keeps its head and its last ``tail_pieces`` pieces (a review's verdict
  is often in its last lines).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from model.rows import bag_features, cut_pieces, pad_post, pad_pre, rounded_width

PAD, START, OOV, UNUSED = 0, 1, 2, 3
INDEX_FROM = 3  # id = word rank + 3, as keras.datasets.imdb's index_from
NUM_WORDS = 10_000  # ids kept: the most frequent words, everything else is OOV
MAXLEN = 500  # positions the model reads: the last 500 ids of a review
MARKERS = {PAD: "<pad>", START: "<start>", OOV: "<unk>", UNUSED: "<unused>"}
ENCODING_VERSION = 3  # bump when tokenize() or a layout changes, so cached arrays are rebuilt

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Runs of letters/digits in any script, with apostrophes kept inside words ("don't", "o'clock").
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Lowercase words of ``text``: ``<br />`` is a space, punctuation goes, inner apostrophes stay."""
    return _TOKEN.findall(_BREAK.sub(" ", text.lower()))


def build_vocabulary(token_lists: Iterable[Sequence[str]], num_words: int = NUM_WORDS) -> list[str]:
    """Words by descending frequency (ties alphabetical): element i has rank i + 1.

    Only the words that can get an id below ``num_words`` are kept; the rest would be OOV anyway.
    """
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[: num_words - INDEX_FROM - 1]]


@dataclass(frozen=True)
class Encoded:
    """One text as the model sees it, plus what a reply needs to say about it."""

    ids: list[int]  # start marker + word ids, before padding
    words: int  # words found in the text
    known: int  # of those, words in the vocabulary
    truncated: bool  # True when the row could not hold all of the text


# --- Layouts: how ids become a model row, one class each -----------------------------------------

SEQUENCE, BAG, WORDPIECE = "sequence", "bag", "wordpiece"


class Layout:
    """The rules of one row layout; :class:`TextEncoder` asks its layout and never branches on the name."""

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]] = ()  # recipe fields this layout's encoder also stores
    fixed_width: ClassVar[bool] = True  # a model reads exactly ``maxlen`` positions (else rows of any width)
    # Rows are padded at the end to the batch's longest row: training batches are cut to that width and
    # serving compiles the forward pass once per width.
    pads_to_longest: ClassVar[bool] = False

    def vocabulary(self, encoder: TextEncoder) -> Any:
        """What the encoder looks words up in (built once, when the encoder is made)."""
        return {
            word: rank + INDEX_FROM
            for rank, word in enumerate(encoder.words, start=1)
            if rank + INDEX_FROM < encoder.num_words
        }

    def analyse(self, encoder: TextEncoder, text: str) -> Encoded:
        tokens = tokenize(text)
        ids = [START] + [encoder._index.get(token, OOV) for token in tokens]
        known = sum(1 for i in ids[1:] if i != OOV)
        return Encoded(ids=ids, words=len(tokens), known=known, truncated=self.width_of(encoder, ids) > encoder.maxlen)

    def width_of(self, encoder: TextEncoder, ids: Sequence[int]) -> int:
        """Positions the ids take in a row, before it is cut to ``maxlen``."""
        return len(ids)

    def id_lists(self, encoder: TextEncoder, texts: Sequence[str]) -> list[list[int]]:
        return [self.analyse(encoder, text).ids for text in texts]

    def analyse_many(self, encoder: TextEncoder, texts: Sequence[str]) -> list[Encoded]:
        return [self.analyse(encoder, text) for text in texts]

    def rows(self, encoder: TextEncoder, id_lists: Sequence[Sequence[int]], width: int | None) -> np.ndarray:
        raise NotImplementedError

    def read(self, encoder: TextEncoder, ids: list[int]) -> list[int]:
        """The ids a model row keeps of a text's ids (what an explanation may leave out)."""
        return ids

    def input_dim(self, encoder: TextEncoder) -> int:
        return encoder.num_words

    def special_ids(self, encoder: TextEncoder) -> frozenset[int]:
        return frozenset(MARKERS)

    def word(self, encoder: TextEncoder, i: int) -> str:
        if i in MARKERS:
            return MARKERS[i]
        rank = i - INDEX_FROM
        return encoder.words[rank - 1] if 0 < rank <= len(encoder.words) else MARKERS[OOV]

    def learn_words(self, texts: Sequence[str], num_words: int) -> tuple[str, ...]:
        """The vocabulary a new encoder learns from the training texts."""
        return tuple(build_vocabulary((tokenize(text) for text in texts), num_words))

    def tokenizer(self) -> str:
        """The word-piece tokenizer a new encoder brings (none: words come from the data)."""
        return ""


class SequenceLayout(Layout):
    """The tutorial's: ids in order, padded and cut at the front like ``pad_sequences``'s defaults."""

    name = SEQUENCE

    def rows(self, encoder: TextEncoder, id_lists: Sequence[Sequence[int]], width: int | None) -> np.ndarray:
        return pad_pre(id_lists, encoder.maxlen)  # always maxlen wide: the model reads fixed positions

    def read(self, encoder: TextEncoder, ids: list[int]) -> list[int]:
        return ids[-encoder.maxlen :]


class BagLayout(Layout):
    """fastText-style: distinct word ids and hashed n-gram ids, sorted, at the front of a row of any width."""

    name = BAG
    settings = ("buckets", "ngrams")
    fixed_width = False

    def width_of(self, encoder: TextEncoder, ids: Sequence[int]) -> int:
        return len(encoder._bag(ids))

    def rows(self, encoder: TextEncoder, id_lists: Sequence[Sequence[int]], width: int | None) -> np.ndarray:
        width = min(width or encoder.maxlen, encoder.maxlen)
        out = np.zeros((len(id_lists), width), dtype=np.int32)
        for row, ids in enumerate(id_lists):
            features = encoder._bag(ids)[:width]
            out[row, : len(features)] = features
        return out

    def input_dim(self, encoder: TextEncoder) -> int:
        return encoder.num_words + encoder.buckets


class WordPieceLayout(Layout):
    """The pretrained encoder's: its word pieces between [CLS] and [SEP], padded at the end."""

    name = WORDPIECE
    settings = ("tail_pieces",)
    fixed_width = False
    pads_to_longest = True

    def vocabulary(self, encoder: TextEncoder) -> Any:
        if not encoder.tokenizer:
            raise ValueError("the wordpiece layout needs the tokenizer's JSON")
        from tokenizers import Tokenizer

        pieces = Tokenizer.from_str(encoder.tokenizer)
        pieces.no_padding()  # rows are padded and cut here, the same way for one text or a batch
        pieces.no_truncation()
        return pieces

    def analyse(self, encoder: TextEncoder, text: str) -> Encoded:
        """Words are the pieces that start a word (not ``##…``, not punctuation); unknown ones are [UNK]."""
        return self._encoded(encoder, encoder._index.encode(text))

    def analyse_many(self, encoder: TextEncoder, texts: Sequence[str]) -> list[Encoded]:
        """The pieces of many texts in one parallel call (a file: thousands of rows)."""
        return [self._encoded(encoder, encoding) for encoding in encoder._index.encode_batch(list(texts))]

    def _encoded(self, encoder: TextEncoder, encoding: Any) -> Encoded:
        starts = [t for t in encoding.tokens[1:-1] if t == "[UNK]" or (not t.startswith("##") and _TOKEN.search(t))]
        ids = cut_pieces(encoding.ids, encoder.maxlen, encoder.tail_pieces)
        known = sum(1 for t in starts if t != "[UNK]")
        return Encoded(ids=ids, words=len(starts), known=known, truncated=len(encoding.ids) > len(ids))

    def id_lists(self, encoder: TextEncoder, texts: Sequence[str]) -> list[list[int]]:
        cap, tail = encoder.maxlen, encoder.tail_pieces
        return [cut_pieces(e.ids, cap, tail) for e in encoder._index.encode_batch(list(texts))]

    def rows(self, encoder: TextEncoder, id_lists: Sequence[Sequence[int]], width: int | None) -> np.ndarray:
        cap = min(width or encoder.maxlen, encoder.maxlen)
        lists = [cut_pieces(ids, cap, encoder.tail_pieces) for ids in id_lists]
        return pad_post(lists, rounded_width(max(map(len, lists), default=0), cap))

    def input_dim(self, encoder: TextEncoder) -> int:
        return encoder._index.get_vocab_size()

    def special_ids(self, encoder: TextEncoder) -> frozenset[int]:
        names = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")
        return frozenset(i for i in map(encoder._index.token_to_id, names) if i is not None)

    def word(self, encoder: TextEncoder, i: int) -> str:
        return encoder._index.id_to_token(i) or MARKERS[OOV]

    def learn_words(self, texts: Sequence[str], num_words: int) -> tuple[str, ...]:
        return ()  # the pieces are the tokenizer's: nothing is learnt from the data

    def tokenizer(self) -> str:
        from model import pretrained

        return pretrained.tokenizer_json()


LAYOUTS: dict[str, Layout] = {rules.name: rules for rules in (SequenceLayout(), BagLayout(), WordPieceLayout())}


def layout_named(name: str) -> Layout:
    """The layout registered under ``name``."""
    if name not in LAYOUTS:
        raise ValueError(f"layout must be one of {tuple(LAYOUTS)}, not {name!r}")
    return LAYOUTS[name]


@dataclass(frozen=True)
class TextEncoder:
    """The vocabulary plus the id and layout rules; saved inside every model bundle."""

    words: tuple[str, ...]  # words[i] has rank i + 1
    num_words: int = NUM_WORDS
    maxlen: int = MAXLEN  # width of a model row
    layout: str = SEQUENCE
    buckets: int = 0  # hashed n-gram buckets (bag layout only)
    ngrams: int = 2  # longest word run hashed into the buckets (bag layout only)
    tokenizer: str = field(default="", repr=False)  # the ``tokenizers`` JSON (wordpiece layout only)
    tail_pieces: int = 1  # pieces a long text keeps from its end, [SEP] included (wordpiece layout only)
    _rules: Layout = field(init=False, repr=False, compare=False)
    _index: Any = field(init=False, repr=False, compare=False)  # word → id, or the word-piece tokenizer

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", layout_named(self.layout))
        object.__setattr__(self, "_index", self._rules.vocabulary(self))

    @classmethod
    def learn(cls, settings: dict, texts: Sequence[str] = ()) -> TextEncoder:
        """A new encoder with ``settings`` (a recipe's): its vocabulary learnt from ``texts``, or its tokenizer's."""
        rules = layout_named(settings.get("layout", SEQUENCE))
        return cls(words=rules.learn_words(texts, settings["num_words"]), tokenizer=rules.tokenizer(), **settings)

    @property
    def fixed_width(self) -> bool:
        """Whether a model reads exactly ``maxlen`` positions (else rows of any width)."""
        return self._rules.fixed_width

    @property
    def pads_to_longest(self) -> bool:
        """Rows padded at the end to the batch's longest: batches can be cut, shapes vary per batch."""
        return self._rules.pads_to_longest

    @property
    def special_ids(self) -> frozenset[int]:
        """Ids that are markers, not words: never shown or left out by an explanation."""
        return self._rules.special_ids(self)

    def analyse(self, text: str) -> Encoded:
        """Encode one text and count its words and known words."""
        return self._rules.analyse(self, text)

    def analyse_many(self, texts: Sequence[str]) -> list[Encoded]:
        """:meth:`analyse` for many texts (word pieces are cut in one parallel call)."""
        return self._rules.analyse_many(self, texts)

    def row_width(self, ids: Sequence[int]) -> int:
        """Positions ``ids`` take in a model row (at most ``maxlen``): what a batch of them is padded to."""
        return self.maxlen if self.fixed_width else min(self._rules.width_of(self, ids), self.maxlen)

    def ids(self, text: str) -> list[int]:
        """Start marker followed by each word's id, unpadded."""
        return self.analyse(text).ids

    def read_ids(self, text: str) -> list[int]:
        """The ids of ``text`` that a model row holds (a sequence row keeps the last ``maxlen``)."""
        return self._rules.read(self, self.ids(text))

    @property
    def input_dim(self) -> int:
        """Number of distinct ids a row can hold: the embedding's size."""
        return self._rules.input_dim(self)

    def rows(self, id_lists: Sequence[Sequence[int]], width: int | None = None) -> np.ndarray:
        """A (len(id_lists), width) int32 array: the model's input for each id list.

        ``width`` defaults to maxlen. Bag rows may be narrower (bag models read any width), which is
        how single sentences are stored and trained on cheaply; sequence rows are always maxlen wide.
        Word-piece rows are as wide as the longest list (rounded up), at most ``width``.
        """
        return self._rules.rows(self, id_lists, width)

    def encode(self, texts: Sequence[str], width: int | None = None) -> np.ndarray:
        """The model's input rows for ``texts``."""
        return self.rows(self._rules.id_lists(self, texts), width)

    def _bag(self, ids: Sequence[int]) -> np.ndarray:
        return bag_features(ids, self.num_words, self.buckets, self.ngrams)

    def decode(self, ids: Iterable[int]) -> str:
        """Words for ids, like the tutorial's reverse word index; markers for pad/start/unknown."""
        return " ".join(self._rules.word(self, int(i)) for i in ids)

    def to_config(self) -> dict:
        """JSON-ready form, stored in bundles and caches."""
        return (
            {
                "num_words": self.num_words,
                "maxlen": self.maxlen,
                "layout": self.layout,
                "buckets": self.buckets,
                "ngrams": self.ngrams,
                "words": list(self.words),
            }
            | ({"tokenizer": self.tokenizer} if self.tokenizer else {})
            | ({"tail_pieces": self.tail_pieces} if self.tail_pieces != 1 else {})
        )

    @classmethod
    def from_config(cls, config: dict) -> TextEncoder:
        """Inverse of :meth:`to_config`; configs from before layouts existed are the sequence layout."""
        return cls(
            words=tuple(config["words"]),
            num_words=int(config["num_words"]),
            maxlen=int(config["maxlen"]),
            layout=config.get("layout", SEQUENCE),
            buckets=int(config.get("buckets", 0)),
            ngrams=int(config.get("ngrams", 2)),
            tokenizer=config.get("tokenizer", ""),
            tail_pieces=int(config.get("tail_pieces", 1)),  # bundles from before head + tail read the head
        )
