"""Batches for scoring many texts at once (a whole file): rows of similar length together.

A batch is as wide as its longest row, so scoring a file in upload order pads every one-liner
to the length of the longest review near it; for the transformer that padding is most of the
work (attention grows with the square of the width). Sorting the rows by width first and cutting
the sorted list into batches of about the same number of word pieces keeps the padding to a few
pieces per row. Batches hold a power-of-two number of rows, the shapes the compiled transformer
is traced for (model/predict.py), and results are put back in upload order by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchShape:
    """How big a batch may be for one model: ``pieces`` (rows x width) at most, and ``rows`` at most."""

    pieces: int
    rows: int
    round_to: int = 1  # widths are rounded up to a multiple of this when sizing (the encoder rounds too)


def _floor_power_of_two(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def length_sorted_batches(widths: Sequence[int], shape: BatchShape) -> list[list[int]]:
    """Indices of ``widths`` grouped into batches, shortest rows first.

    Each batch's rows times its widest row (rounded up to ``round_to``) stays within
    ``shape.pieces``, and its row count within ``shape.rows`` and a power of two (a lone row wider
    than the budget is a batch of its own).
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = max(1, -(-widths[index] // shape.round_to) * shape.round_to)
        allowed = min(shape.rows, _floor_power_of_two(shape.pieces // width))
        if current and len(current) + 1 > allowed:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
