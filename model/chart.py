"""The training chart: accuracy and loss per epoch, training vs validation, as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: workers have no display

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def history_chart(history: dict[str, list[float]], title: str = "") -> bytes:
    """Two panels like the tutorial's plots: accuracy (left) and loss (right) per epoch."""
    epochs = range(1, len(history.get("accuracy", [])) + 1)
    figure, (acc_axis, loss_axis) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for axis, metric in ((acc_axis, "accuracy"), (loss_axis, "loss")):
        axis.plot(epochs, history.get(metric, []), "o-", label=f"Training {metric}")
        axis.plot(epochs, history.get(f"val_{metric}", []), "s--", label=f"Validation {metric}")
        axis.set_title(f"Training and validation {metric}")
        axis.set_xlabel("Epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.5" with 2 epochs
        axis.set_ylabel(metric.capitalize())
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def score_histogram(scores: list[float], title: str = "") -> bytes:
    """How a file's reviews spread over P(positive): 20 bins from 0 to 1, the 0.5 line marked."""
    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    axis.hist(scores, bins=20, range=(0, 1), color="#4c72b0", edgecolor="white")
    axis.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("P(positive)")
    axis.set_ylabel("Reviews")
    axis.set_title(title or f"{len(scores):,} reviews scored")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
