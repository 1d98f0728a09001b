"""Held-out checks beyond the IMDB test split: one-sentence reviews like the ones people type in chat.

``model/short_reviews.tsv`` holds 808 one-sentence reviews written by hand for this project in
November 2026 (none copied from a public dataset): half about films, half about products,
restaurants, apps, books, hotels and services; half positive. Each is tagged with the hard case it
tests: negation ("I wouldn't call it good"), contrast ("the cast is great but the plot is a mess"),
faint praise ("the best thing about it was the popcorn"), mild complaints, sarcasm, questions, typos,
slang, emoji, or plain (no giveaway adjective). It was split once, at random within each
(label, film/other, kind) group, into ``dev`` (choose models and settings with it) and ``test``
(report with it; never choose with it). It ships inside the `model` package, so a worker in the
Docker image reads it as well as the benches do.

Also here: scoring a model on them (intervals are in ``model.intervals``, calibration in ``model.calibration``).
"""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from model.encoding import TextEncoder
from model.intervals import interval95  # noqa: F401 - the benches read it from here too
from model.predict import AnyPredictor

SHORT_REVIEWS = Path(str(resources.files("model") / "short_reviews.tsv"))
LABELS = {"negative": 0, "positive": 1}
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class LabelledText:
    """One hand-written review: its label, what it reviews, the hard case it tests and its split."""

    text: str
    label: int
    domain: str
    kind: str = "plain"
    split: str = "dev"


def load_short_reviews(split: str | None = None, path: Path = SHORT_REVIEWS) -> list[LabelledText]:
    """The reviews of one split ("dev" or "test"), or of both when ``split`` is None."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    examples = [
        LabelledText(row["text"], LABELS[row["label"]], row["domain"], row["kind"], row["split"]) for row in rows
    ]
    return [e for e in examples if split is None or e.split == split]


def accuracy(predictor: AnyPredictor, examples: list[LabelledText]) -> float:
    """Share of examples whose verdict matches the label, scored in one batch."""
    predictions = predictor.predict([example.text for example in examples])
    hits = sum(int(p.label == "positive") == e.label for p, e in zip(predictions, examples, strict=True))
    return hits / len(examples)


def latency_ms(predictor: AnyPredictor, texts: list[str], repeats: int = 200) -> float:
    """Median milliseconds to score one text alone (encode + model call), as a lone chat message is."""
    timings = []
    for i in range(repeats):
        started = time.perf_counter()
        predictor.predict([texts[i % len(texts)]])
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def short_dev_scores(model, encoder: TextEncoder) -> tuple[np.ndarray, np.ndarray]:
    """A Keras model's scores and the labels of the short dev split: the gate reads its accuracy, the
    calibration check its ECE."""
    from model.batches import scores

    dev = load_short_reviews("dev")
    found = scores(model, encoder.encode([e.text for e in dev]), encoder.pads_to_longest)
    return found, np.array([e.label for e in dev])
