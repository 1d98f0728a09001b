"""Sentences that carry no opinion: left out of the pool a fine-tune samples from.

A training sentence is labelled with its review's label, but many sentences only tell the plot ("The
film was shot in 1982 in Ohio."). Their label is a coin toss, and a model fine-tuned on them learns
topic words as sentiment. A sentence's strength is how far the Naive Bayes log-count ratios of its
distinct word pieces (counted on the training reviews) sum from 0, divided by the square root of its
piece count so long sentences are not favoured. On the IMDB training sentences the weakest third
agrees with its label by that sum 57% of the time, the middle third 72%, the strongest 87%: dropping
the weakest spends the same fine-tuning steps on sentences that say something.
"""

from __future__ import annotations

import numpy as np

from model.architectures import nb_ratios


def piece_ratios(x: np.ndarray, y: np.ndarray, input_dim: int, special: frozenset[int]) -> np.ndarray:
    """Each word piece's NB log-count ratio between positive and negative rows; 0 for markers.

    The counts are :func:`~model.architectures.nb_ratios`'s: on word-piece rows a piece that appears twice
    in a row counts twice (occurrences, not the document frequencies of its bag rows)."""
    ratios = nb_ratios([(x, y)], input_dim)
    ratios[sorted(special)] = 0.0
    return ratios


def strength(x: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """|sum of the ratios of each row's distinct pieces| / sqrt(its piece count); padding (0) counts for nothing."""
    ordered = np.sort(x, axis=1)
    first = np.ones_like(ordered, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]  # each distinct id once
    total = (ratios[ordered] * first).sum(axis=1)
    pieces = np.maximum((x > 0).sum(axis=1), 1)
    return np.abs(total) / np.sqrt(pieces)


def without_neutral(x: np.ndarray, y: np.ndarray, ratios: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The rows less the weakest ``fraction`` of them (ties kept), every kept row in its order."""
    if not 0 < fraction < 1 or not len(y):
        return x, y
    scores = strength(x, ratios)
    keep = scores >= np.quantile(scores, fraction)
    return x[keep], y[keep]
