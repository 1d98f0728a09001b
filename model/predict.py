"""Serving: score texts with a loaded bundle, many at once when many wait."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from model.bundle import Bundle
from model.calibration import with_temperature


@dataclass(frozen=True)
class Prediction:
    """One verdict plus what a reply needs to explain it."""

    label: str  # "positive" or "negative"
    score: float  # probability of positive
    words: int  # words in the text
    known: int  # words in the model's vocabulary
    truncated: bool  # True when the model could not read all of the text

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def label_for(score: float) -> str:
    """The verdict for a probability of positive."""
    return "positive" if score >= 0.5 else "negative"


class Predictor:
    """Wraps a bundle; ``predict_on_batch`` avoids ``model.predict``'s ~50 ms per-call overhead."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.predict(["warm up"])  # build the predict function now, not on the first user's message

    @property
    def version(self) -> str:
        """Version of the bundle being served."""
        return self.bundle.version

    @property
    def temperature(self) -> float:
        """The bundle's fitted temperature (1: none was fitted)."""
        return float(self.bundle.meta.get("temperature") or 1.0)

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """The model's own P(positive) for a batch of rows, before calibration."""
        return np.asarray(self.bundle.model.predict_on_batch(x), dtype=np.float64).reshape(-1)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) for a batch of rows: the logits divided by the bundle's temperature."""
        raw = self.raw_scores(x)
        return raw if self.temperature == 1.0 else with_temperature(raw, self.temperature)

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Verdicts for ``texts``, scored in one model call."""
        encoded = [self.bundle.encoder.analyse(text) for text in texts]
        x = self.bundle.encoder.rows([e.ids for e in encoded])
        probabilities = self.scores(x) if len(texts) else np.zeros(0)
        return [
            Prediction(label_for(p), round(float(p), 6), e.words, e.known, e.truncated)
            for p, e in zip(probabilities, encoded, strict=True)
        ]
