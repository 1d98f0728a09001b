"""Small generated data for tests: an aclImdb-shaped tree whose labels a model can learn in seconds."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

TINY_EPOCHS = 4  # enough for the tutorial model to learn the generated cue words
POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "enjoyable", "masterpiece", "touching"]
NEGATIVE = ["awful", "boring", "terrible", "waste", "dull", "worst", "poorly", "mess"]
FILLER = [
    "the",
    "movie",
    "film",
    "a",
    "plot",
    "acting",
    "and",
    "was",
    "it",
    "story",
    "characters",
    "scene",
    "director",
    "this",
    "of",
    "to",
    "in",
    "is",
    "that",
    "with",
    "for",
    "as",
    "on",
    "but",
    "his",
    "her",
    "they",
    "one",
    "all",
    "at",
    "by",
    "an",
    "who",
    "so",
    "from",
    "like",
    "there",
]


def review_text(rng: random.Random, positive: bool, words: int | None = None) -> str:
    """A review: filler words with several sentiment words of its label, HTML breaks and punctuation."""
    count = words or rng.randint(12, 40)
    tokens = [rng.choice(FILLER) for _ in range(count)]
    cues = POSITIVE if positive else NEGATIVE
    for _ in range(rng.randint(3, 6)):
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(cues))
    tokens[0] = tokens[0].capitalize()
    middle = len(tokens) // 2
    return " ".join(tokens[:middle]) + ". <br /><br />" + " ".join(tokens[middle:]) + "!"


def make_aclimdb(root: Path, per_class: int = 200, seed: int = 7) -> Path:
    """Write root/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt and return the aclImdb folder."""
    rng = random.Random(seed)
    base = root / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = base / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                (folder / f"{i}_{rating}.txt").write_text(review_text(rng, label == "pos"), encoding="utf-8")
    (base / "README").write_text("generated for tests\n")
    return base


def make_tarball(folder: Path, path: Path) -> Path:
    """Pack an aclImdb folder the way Stanford ships it (aclImdb/ at the top)."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="aclImdb")
    return path


def recorded_progress(stop: bool = False):
    """A training listener that keeps everything it hears; with ``stop``, it asks the run to stop."""
    from model.progress import TrainingProgress

    class Recorded(TrainingProgress):
        def __init__(self) -> None:
            self.stages: list[str] = []
            self.batches: list[tuple[int, int, int]] = []
            self.epochs: list = []

        def stage(self, name: str) -> None:
            self.stages.append(name)

        def batch(self, epoch: int, done: int, batches: int) -> None:
            self.batches.append((epoch, done, batches))

        def epoch(self, report) -> None:
            self.epochs.append(report)

        def should_stop(self) -> bool:
            return stop

    return Recorded()


def second_version(bundle_path: Path) -> bytes:
    """The same trained model under a new version id (a cheap 'retrained' model)."""
    from model import bundle as bundles

    loaded = bundles.load(bundle_path)
    loaded.meta = {**loaded.meta, "version": bundles.new_version(), "test_accuracy": 0.99}
    return bundles.to_bytes(loaded)


def repacked(data: bytes, version: str, encoder: dict | None = None) -> bytes:
    """The bundle under a new version, ``encoder`` merged into its encoder.json, checksums redone:
    what someone who can write to Redis, or a buggy exporter, could make."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        parts = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    meta = {**json.loads(parts["meta.json"]), "version": version}
    config = {**json.loads(parts["encoder.json"]), **(encoder or {})}
    parts["meta.json"] = json.dumps(meta).encode()
    parts["encoder.json"] = json.dumps({k: v for k, v in config.items() if v is not None}).encode()
    checksums = {name: hashlib.sha256(parts[name]).hexdigest() for name in ("meta.json", "encoder.json", "model.keras")}
    parts["checksums.json"] = json.dumps(checksums).encode()
    return tar_of(parts)


def tar_of(parts: dict[str, bytes]) -> bytes:
    """An uncompressed tar holding ``parts`` (name → bytes), as bundles are."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, body in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()
