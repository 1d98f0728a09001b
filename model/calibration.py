"""Confidences that mean what they say: expected calibration error and temperature scaling.

A model trained to separate classes is often over-sure: "97% positive" may be right 85% of the
time. Dividing the logit by a temperature T fitted on held-out examples fixes most of that without
changing any verdict (Guo et al., 2017). Training fits T where it has held-out examples and stores
it in the bundle; serving applies it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

CALIBRATION_BINS = 10


def expected_calibration_error(scores: Sequence[float], labels: Sequence[int], bins: int = CALIBRATION_BINS) -> float:
    """ECE of the verdicts: in each of ``bins`` equal-width confidence bins, |accuracy − mean confidence|,
    weighted by the share of examples in the bin. 0 means "90% sure" is right 90% of the time."""
    p = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    confidence = np.maximum(p, 1 - p)  # of the verdict given, positive or negative
    correct = (p >= 0.5) == (y == 1)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def logits(scores: Sequence[float]) -> np.ndarray:
    """log(p / (1 − p)), clipped so a score of exactly 0 or 1 stays finite."""
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def with_temperature(scores: Sequence[float], temperature: float) -> np.ndarray:
    """Scores with their logits divided by ``temperature`` (> 1 softens, < 1 sharpens; verdicts unchanged)."""
    return 1.0 / (1.0 + np.exp(-logits(scores) / temperature))


def fit_temperature(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The temperature that minimises the log loss on held-out examples (golden-section search on log T)."""
    z, y = logits(scores), np.asarray(labels, dtype=np.float64)

    def loss(log_t: float) -> float:
        q = np.clip(1.0 / (1.0 + np.exp(-z / math.exp(log_t))), 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))

    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if loss(a) < loss(b):
            high = b
        else:
            low = a
    return round(math.exp((low + high) / 2), 4)


@dataclass(frozen=True)
class Calibration:
    """The temperature fitted on held-out training examples, and whether serving uses it."""

    fitted: float = 1.0  # T that minimises log loss on the held-out examples
    examples: int = 0  # held-out examples it was fitted on (0: the recipe trains on everything)
    dev_ece: tuple[float, float] = (0.0, 0.0)  # ECE on the short dev split without, with T
    applied: float = 1.0  # fitted if it lowered the dev ECE, else 1 (chosen on dev, never on test)

    def to_dict(self) -> dict:
        return asdict(self)


def calibrate(
    held_scores: np.ndarray, held_labels: np.ndarray, dev_scores: np.ndarray, dev_labels: np.ndarray
) -> Calibration:
    """T fitted on held-out training examples; applied only if it lowers the ECE on the short dev split.

    Only recipes that train on a sample have such examples; the others keep T = 1. Measured on the
    first minilm: T = 1.16 from the held-out examples (their sentence labels are noisy: a neutral
    sentence of a positive review is labelled positive) raised the ECE on IMDB test from 0.010 to
    0.027 and on the short dev split from 0.043 to 0.053, so the dev check matters.
    """
    if not len(held_labels):
        return Calibration()
    fitted = fit_temperature(held_scores, held_labels)
    before = expected_calibration_error(dev_scores, dev_labels)
    after = expected_calibration_error(with_temperature(dev_scores, fitted), dev_labels)
    return Calibration(fitted, len(held_labels), (round(before, 4), round(after, 4)), fitted if after < before else 1.0)
