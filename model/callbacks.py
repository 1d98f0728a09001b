"""Keras callbacks that forward a run's progress to a :class:`model.progress.TrainingProgress`."""

from __future__ import annotations

import time

import keras

from model.progress import EpochReport, TrainingProgress

STOP_POLL_S = 0.5  # how often the stop request is checked while fitting
BATCH_REPORT_S = 30.0  # a long epoch or test reports how far it has got this often (chat shows it)


class FitProgress(keras.callbacks.Callback):
    """Epoch metrics and long epochs' batches to the listener; stops between batches when it asks."""

    def __init__(self, epochs: int, progress: TrainingProgress):
        super().__init__()
        self.epochs = epochs
        self.progress = progress
        self.cancelled = False
        self.completed = 0  # epochs that ran to the end (an interrupted one still gets validated by Keras)
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_report = 0.0
        self._last_poll = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.progress.stage("training")  # the fit itself begins (data loading and other parts are done)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch = epoch
        self._last_report = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        if now - self._last_report >= BATCH_REPORT_S:
            self._last_report = now
            self.progress.batch(self._epoch + 1, batch + 1, int(self.params.get("steps") or 0))
        if now - self._last_poll < STOP_POLL_S:
            return
        self._last_poll = now
        if self.progress.should_stop():
            self.cancelled = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.cancelled:
            return
        self.completed = epoch + 1
        if "val_accuracy" not in logs:
            return
        self.progress.epoch(
            EpochReport(
                epoch=epoch + 1,
                epochs=self.epochs,
                accuracy=float(logs["accuracy"]),
                val_accuracy=float(logs["val_accuracy"]),
                loss=float(logs["loss"]),
                val_loss=float(logs["val_loss"]),
                seconds=round(time.perf_counter() - self._epoch_start, 3),
            )
        )


class TestProgress(keras.callbacks.Callback):
    """Says how far a long test has got, every BATCH_REPORT_S (the transformer's takes over a minute)."""

    def __init__(self, progress: TrainingProgress, reviews: int, batch_size: int):
        super().__init__()
        self.progress, self.reviews, self.batch_size = progress, reviews, batch_size
        self._last = time.monotonic()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self._last >= BATCH_REPORT_S:
            self._last = time.monotonic()
            done = min(self.reviews, (batch + 1) * self.batch_size)
            self.progress.stage(f"testing: {done:,}/{self.reviews:,} test reviews")
