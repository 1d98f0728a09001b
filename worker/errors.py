"""Failures of the queue side, each with a message the bot can show as it is."""

from common.errors import SentibotError


class QueueUnavailable(SentibotError):
    """Redis cannot be reached: nothing can be queued or read."""


class ModelUnavailable(SentibotError):
    """No model is live yet, or the live one cannot be loaded."""


class ScoringTimeout(SentibotError):
    """No worker answered a score request in time."""


class JobFailed(SentibotError):
    """A job ended in failure; the message says why in words, ``kind`` names the error (e.g. ModelUnavailable)."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class TrainingBusy(SentibotError):
    """A training run is already going; only one at a time."""

    def __init__(self, message: str, running: dict) -> None:
        super().__init__(message)
        self.running = running


class NotFound(SentibotError):
    """A model version or job id that does not exist."""


class FeedbackLimit(SentibotError):
    """A user gave the day's maximum of feedback already."""


class BadFeedbackFile(SentibotError):
    """A feedback CSV to import is not in the exported format."""
