"""Held-out checks beyond the IMDB test split: one-sentence reviews like the ones people type in chat.

The set ships inside the `model` package (model/short_reviews.tsv), so a worker in the Docker
image can read it as well as the benches can.
"""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from model.predict import Predictor

SHORT_REVIEWS = Path(str(resources.files("model") / "short_reviews.tsv"))
LABELS = {"negative": 0, "positive": 1}


@dataclass(frozen=True)
class LabelledText:
    """One hand-written review with its label and where it comes from (movie, product)."""

    text: str
    label: int
    domain: str


def load_short_reviews(path: Path = SHORT_REVIEWS) -> list[LabelledText]:
    """The tab-separated `label, domain, text` file written for this project (never trained on)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [LabelledText(row["text"], LABELS[row["label"]], row["domain"]) for row in rows]


def accuracy(predictor: Predictor, examples: list[LabelledText]) -> float:
    """Share of examples whose verdict matches the label, scored in one batch."""
    predictions = predictor.predict([example.text for example in examples])
    hits = sum(int(p.label == "positive") == e.label for p, e in zip(predictions, examples, strict=True))
    return hits / len(examples)


def latency_ms(predictor: Predictor, texts: list[str], repeats: int = 200) -> float:
    """Median milliseconds to score one text alone (encode + model call), as a lone chat message is."""
    timings = []
    for i in range(repeats):
        started = time.perf_counter()
        predictor.predict([texts[i % len(texts)]])
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
