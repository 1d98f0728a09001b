"""Id lists into model rows: padding like Keras's ``pad_sequences``, widths rounded to few shapes,
hashed n-gram ids for the bag layout, and long word-piece lists cut to their head and tail.

Plain numpy arithmetic with no vocabulary: ``model.encoding`` decides which ids a text has, this
module how they sit in an array. The hashes are pinned by a test, since saved bundles depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Word-piece rows are as wide as the longest row in the batch, rounded up to a multiple of this: few
# traced shapes. Serving rounds to 16 (a one-line review at width 16 scores in ~11.5 ms here, at 32 in
# ~13.5 ms); training batches are cut to multiples of 32 (fewer shapes to trace, each ~7 s).
PIECE_ROUND = 16
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads neighbouring pairs over the buckets


def pad_pre(sequences: Sequence[Sequence[int]], maxlen: int) -> np.ndarray:
    """``keras.utils.pad_sequences(sequences, maxlen)`` with its defaults, without importing Keras."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:]
        if len(tail):
            out[row, maxlen - len(tail) :] = tail
    return out


def pad_post(sequences: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """Rows of ``width`` with each sequence at the front and zeros after (sequences must fit)."""
    out = np.zeros((len(sequences), width), dtype=np.int32)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = seq
    return out


def rounded_width(longest: int, cap: int, multiple: int = PIECE_ROUND) -> int:
    """The row width for a batch whose longest row is ``longest``: a multiple of ``multiple``, at most cap."""
    return min(cap, max(multiple, -(-longest // multiple) * multiple))


def ngram_buckets(ids: np.ndarray, n: int, buckets: int) -> np.ndarray:
    """A bucket in [0, buckets) for each run of ``n`` neighbouring ids; the same on every machine."""
    if len(ids) < n or buckets <= 0:
        return np.zeros(0, dtype=np.int64)
    count = len(ids) - n + 1
    hashed = np.zeros(count, dtype=np.uint64)
    for k in range(n):  # polynomial hash of the ids; uint64 arithmetic wraps, as intended
        hashed = (hashed * np.uint64(1_000_003)) ^ ids[k : k + count].astype(np.uint64)
    return (((hashed * _GOLDEN) >> np.uint64(20)) % np.uint64(buckets)).astype(np.int64)


def bag_features(ids: Sequence[int], num_words: int, buckets: int, ngrams: int = 2) -> np.ndarray:
    """Sorted distinct word ids and ``num_words + bucket`` for each distinct hashed 2..ngrams-gram."""
    array = np.asarray(ids, dtype=np.int64)
    grams = [num_words + ngram_buckets(array, n, buckets) for n in range(2, ngrams + 1)]
    return np.unique(np.concatenate([array, *grams]))


def cut_pieces(ids: Sequence[int], cap: int, tail: int = 1) -> list[int]:
    """Word pieces cut to ``cap``: a longer text keeps its head and its last ``tail`` pieces.

    ``tail`` 1 keeps just the closing [SEP] (the first ``cap - 1`` pieces are read); a larger tail
    also reads how a long review ends, where its verdict often is. The tail never takes more than
    half of ``cap`` (a narrower row, e.g. a sentence example's, still starts with its head).
    """
    if len(ids) <= cap:
        return list(ids)
    tail = max(1, min(tail, cap // 2))
    return [*ids[: cap - tail], *ids[len(ids) - tail :]]
