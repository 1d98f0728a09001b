"""Sentences that say "not": sampled as often from positive reviews as from negative ones.

In the IMDB training reviews a sentence with a negation ("not", "never", "nothing", "n't"...) comes
from a positive review 42% of the time, one without 51%. Fine-tuned on them as they come, MiniLM
learns the word itself as a sign of a bad review and reads "I couldn't take my eyes off the screen"
or "Not a single boring minute" as negative. Keeping only as many of the negative reviews' negation
sentences as the positive reviews have (a seeded draw) takes that cue away and leaves the words
around the negation to decide. Word-piece rows only (the pieces are the tokenizer's).
"""

from __future__ import annotations

import numpy as np

from model.encoding import TextEncoder

NEGATIONS = ("not", "no", "never", "nothing", "nobody", "none", "nowhere", "neither", "nor", "without", "cannot")
CONTRACTION = "don't"  # cut into "don", "'", "t": the last two pieces mark every "n't"


def negation_pieces(encoder: TextEncoder) -> tuple[frozenset[int], tuple[int, int]]:
    """(ids of the negation words, the ids of "'" and "t" as they follow in "n't")."""
    special = encoder.special_ids
    words = frozenset(i for row in encoder.encode(list(NEGATIONS)) for i in row.tolist() if i and i not in special)
    pieces = [i for i in encoder.encode([CONTRACTION])[0].tolist() if i and i not in special]
    return words, (pieces[-2], pieces[-1])


def says_no(x: np.ndarray, encoder: TextEncoder) -> np.ndarray:
    """Which rows of word-piece ids hold a negation word or an "n't"."""
    words, (apostrophe, t) = negation_pieces(encoder)
    single = np.isin(x, list(words)).any(axis=1)
    contracted = ((x[:, :-1] == apostrophe) & (x[:, 1:] == t)).any(axis=1)
    return single | contracted


def balanced(x: np.ndarray, y: np.ndarray, negated: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows with the negated ones of the more common label thinned (seeded) to the other label's
    count; rows without a negation all kept, every row in its order."""
    positive, negative = np.flatnonzero(negated & (y == 1)), np.flatnonzero(negated & (y == 0))
    more, fewer = (negative, positive) if len(negative) > len(positive) else (positive, negative)
    dropped = np.random.default_rng(seed).choice(more, len(more) - len(fewer), replace=False)
    keep = np.ones(len(y), bool)
    keep[dropped] = False
    return x[keep], y[keep]
