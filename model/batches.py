"""Feeding examples to Keras: samples, held-out rows, batches of one width each, and scoring rows in batches.

Rows padded at the end (word pieces) are cut to the longest row of their batch: a 20-piece sentence
then costs what 32 pieces cost, not a review's 256.
"""

from __future__ import annotations

import keras
import numpy as np

from model.rows import PIECE_ROUND, rounded_width

SEED = 1337  # fixed so two runs agree
TRAIN_ROUND = 32  # training batches of word pieces are cut to a multiple of this many columns
SCORE_BATCH = 64  # rows per model call when scoring held-out examples


def training_examples(x_train: np.ndarray, y_train: np.ndarray, x_sentences: np.ndarray, y_sentences: np.ndarray):
    """The reviews, plus the sentence examples (padded to the reviews' width) when there are any."""
    if not len(y_sentences):
        return x_train, y_train
    if x_sentences.shape[1] < x_train.shape[1]:
        x_sentences = np.pad(x_sentences, ((0, 0), (0, x_train.shape[1] - x_sentences.shape[1])))
    return np.concatenate([x_train, x_sentences]), np.concatenate([y_train, y_sentences])


def sample(x: np.ndarray, y: np.ndarray, size: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``size`` rows drawn without replacement (kept in their order); all of them when size is 0 or more."""
    if not 0 < size < len(y):
        return x, y
    rows = np.sort(np.random.default_rng(seed).choice(len(y), size, replace=False))
    return x[rows], y[rows]


def at_most(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows (padded at the end) of at most ``width`` ids; all of them when width is 0."""
    if not width:
        return x, y
    short = row_lengths(x) <= width
    return x[short], y[short]


def held_out(x: np.ndarray, y: np.ndarray, size: int, count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` rows that :func:`sample` (same size and seed) left out: examples never trained on."""
    if not 0 < size < len(y):
        return x[:0], y[:0]
    rest = np.setdiff1d(np.arange(len(y)), sample(np.arange(len(y)), y, size, seed)[0])
    rows = np.sort(np.random.default_rng(seed + 1).permutation(rest)[:count])
    return x[rows], y[rows]


def trimmed(x: np.ndarray, trim: bool, multiple: int = TRAIN_ROUND) -> np.ndarray:
    """Rows padded at the end lose the columns no row in the batch uses (rounded up: few traced shapes)."""
    if not trim or not len(x):
        return x
    used = np.flatnonzero(x.any(axis=0))
    return x[:, : rounded_width(int(used[-1]) + 1 if len(used) else 1, x.shape[1], multiple)]


def row_lengths(x: np.ndarray) -> np.ndarray:
    """Columns each row uses when padded at the end with 0: its last non-zero column + 1 (0 if empty)."""
    used = x != 0
    return np.where(used.any(axis=1), x.shape[1] - np.argmax(used[:, ::-1], axis=1), 0)


def scores(model: keras.Model, x: np.ndarray, trim: bool) -> np.ndarray:
    """The model's P(positive) for rows, SCORE_BATCH at a time."""
    parts = [
        np.asarray(model.predict_on_batch(trimmed(x[i : i + SCORE_BATCH], trim))).reshape(-1)
        for i in range(0, len(x), SCORE_BATCH)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


class MixedWidthBatches(keras.utils.PyDataset):
    """Shuffled batches from reviews and from (narrower) sentence rows, each batch of one width.

    A 20-word sentence padded to a review's 2,500 positions would cost as much as a review; kept at
    its own width it costs a twentieth. Bag models accept any width, so only two shapes are traced.
    With ``trim`` (rows padded at the end), each batch is also cut to its longest row. With
    ``epochs_per_pass`` k, one shuffled pass is served as k epochs, a k-th each: a long pass then
    still reports (and validates) several times.

    With ``window`` w (and ``trim``), the shuffled rows are taken w batches at a time and sorted by
    length within each window before being cut into batches; the batches are then shuffled as
    before. A batch then holds rows of similar length and is cut to little more than each of them:
    a 12-piece sentence no longer pays for a 60-piece one beside it. Such batches are cut to a
    multiple of 16 pieces, not 32 (rounding up by 32 would give back much of what sorting saved;
    without XLA, more shapes cost no more traces). Rows still meet different neighbours every pass,
    and the order is the seed's alone.
    """

    def __init__(
        self,
        parts: list[tuple[np.ndarray, ...]],  # (x, y) or, for every part, (x, y, sample weights)
        batch_size: int,
        seed: int,
        trim: bool = False,
        epochs_per_pass: int = 1,
        window: int = 0,
    ):
        super().__init__()
        self.parts = parts
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.trim = trim
        self.epochs_per_pass = max(1, epochs_per_pass)
        self.epoch_in_pass = 0
        self.window = window * batch_size if trim and window > 0 else 0  # rows per sorted window
        self.multiple = PIECE_ROUND if self.window else TRAIN_ROUND
        # pieces per row (rows padded at the end: the last non-zero column + 1), read once
        self.lengths = [row_lengths(part[0]) for part in parts] if self.window else []
        self._shuffle()

    def _order(self, index: int) -> np.ndarray:
        """A fresh shuffle of part ``index``'s rows, sorted by length within each window when asked."""
        order = self.rng.permutation(len(self.parts[index][1]))
        if not self.window:
            return order
        lengths = self.lengths[index]
        windows = [order[i : i + self.window] for i in range(0, len(order), self.window)]
        return np.concatenate([w[np.argsort(lengths[w], kind="stable")] for w in windows])

    def _shuffle(self) -> None:
        self.orders = [self._order(index) for index in range(len(self.parts))]
        self.batches = [
            (index, start) for index, part in enumerate(self.parts) for start in range(0, len(part[1]), self.batch_size)
        ]
        self.rng.shuffle(self.batches)
        # Keras infers the input signature from the first few batches: put one of each width first,
        # so the signature leaves the width open instead of fixing it to whichever came up first.
        for position, part in enumerate(range(len(self.parts))):
            first = next(i for i, (p, _) in enumerate(self.batches) if p == part)
            self.batches[position], self.batches[first] = self.batches[first], self.batches[position]

    def on_epoch_end(self) -> None:
        self.epoch_in_pass = (self.epoch_in_pass + 1) % self.epochs_per_pass
        if self.epoch_in_pass == 0:
            self._shuffle()

    def __len__(self) -> int:
        return -(-len(self.batches) // self.epochs_per_pass)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        part, start = self.batches[min(self.epoch_in_pass * len(self) + index, len(self.batches) - 1)]
        x, y, *weights = self.parts[part]
        rows = self.orders[part][start : start + self.batch_size]
        return (trimmed(x[rows], self.trim, self.multiple), y[rows], *(w[rows] for w in weights))


class Batches(keras.utils.PyDataset):
    """Rows in order, in batches, each cut to its longest row when ``trim``: for validating and testing."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, trim: bool = False):
        super().__init__()
        self.x, self.y, self.batch_size, self.trim = x, y, batch_size, trim

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return trimmed(self.x[rows], self.trim), self.y[rows]
