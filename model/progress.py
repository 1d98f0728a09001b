"""What a training tells whoever runs it, and how it is told to stop: one protocol, no TensorFlow.

The queue job writes it to Redis for the chat, the CLI ignores it, tests record it. Training code
calls these four methods and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch."""

    epoch: int
    epochs: int
    accuracy: float
    val_accuracy: float
    loss: float
    val_loss: float
    seconds: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


class TrainingProgress:
    """The listener a training reports to; this base hears nothing and never asks to stop."""

    def stage(self, name: str) -> None:
        """A step of the run began ("loading data", "testing: 512/1,000 test reviews", ...)."""

    def batch(self, epoch: int, done: int, batches: int) -> None:
        """A long epoch's partial progress, at most every BATCH_REPORT_S."""

    def epoch(self, report: EpochReport) -> None:
        """An epoch finished and was validated."""

    def should_stop(self) -> bool:
        """Polled between batches: True ends the run as cancelled."""
        return False
