"""How a sentibot worker runs a job: only sentibot's own functions, with the worker's context.

RQ resolves a job's function, its success/failure/stopped callbacks and its webhooks from what the
job hash in Redis names, so anyone who can write to Redis could make a worker import and call
``os.system`` or ``builtins.print``, or post to a URL of their choosing. :class:`SentibotJob` looks
the function up in :data:`worker.jobs.JOBS` instead, never resolves a callback or sends a webhook,
and refuses a job that names any of them, depends on other jobs or repeats: sentibot's own jobs
never do. A refused job fails with a log line naming what it asked for; nothing it names is
imported or called. A job also runs only from its own queue (:data:`worker.queues.JOB_QUEUES`): a
file job put on the score queue would hold a review worker for minutes, so it is refused there.

When a job ends in an error, the reason is written to ``job.meta["failure"]`` before RQ records
the failure (``kind`` and, for sentibot's own errors, the sentence; see worker/queues.py), so clients read why a job
failed instead of parsing its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rq.job import Job
from rq.timeouts import JobTimeoutException

from common.errors import SentibotError
from worker.jobs import JOBS, JobContext
from worker.queues import FAILURE_META, JOB_QUEUES

log = logging.getLogger(__name__)

TIMED_OUT = "It took longer than its time limit and was stopped."


class ForbiddenJob(SentibotError):
    """A job names a function that is not one of sentibot's jobs, or asks RQ for more than running it."""


class SentibotJob(Job):
    """An RQ job whose function comes from sentibot's own table, called with the worker's context."""

    context: JobContext | None = None  # set by the worker right before it runs the job

    def refusal(self) -> str | None:
        """Why a sentibot worker must not run this job (None: it is one of ours, asking for nothing else)."""
        if self.func_name not in JOBS:
            return f"{self.func_name!r} is not a sentibot job"
        extras = {
            "a success callback": self._success_callback_name,
            "a failure callback": self._failure_callback_name,
            "a stopped callback": self._stopped_callback_name,
            "webhooks": self.webhooks,
            "dependencies on other jobs": self._dependency_ids,
            "repeats": self.repeats_left,
        }
        named = [what for what, value in extras.items() if value]
        if named:
            return f"{self.func_name!r} with {', '.join(named)} is not a sentibot job"
        if JOB_QUEUES.get(self.func_name) != self.origin:
            return f"{self.func_name!r} runs only from the {JOB_QUEUES.get(self.func_name)!r} queue"
        return None

    @property
    def func(self) -> Callable[..., Any]:
        reason = self.refusal()
        if reason is not None:
            log.warning("refused job %s: %s", self.id, reason)
            message = f"{reason}; the worker refused to run it."
            self.record_failure(ForbiddenJob.__name__, message)
            raise ForbiddenJob(message)
        function = JOBS[self.func_name]
        return lambda *args, **kwargs: self._call(function, *args, **kwargs)

    # RQ resolves these three by importing whatever the job hash names; sentibot jobs have none.
    @property
    def success_callback(self) -> None:
        return None

    @property
    def failure_callback(self) -> None:
        return None

    @property
    def stopped_callback(self) -> None:
        return None

    def send_webhooks(self, status: Any, *, exc_string: str | None = None) -> None:
        """Never: a webhook's URL comes from the job hash, and sentibot's jobs have none."""

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.context is None:
            raise RuntimeError("a SentibotJob runs only inside a SentibotWorker")
        try:
            return function(self.context, *args, **kwargs)
        except SentibotError as exc:
            self.record_failure(type(exc).__name__, str(exc))
            raise
        except JobTimeoutException:
            self.record_failure("JobTimeoutException", TIMED_OUT)
            raise
        except Exception as exc:
            self.record_failure(type(exc).__name__, None)
            raise

    def record_failure(self, kind: str, message: str | None) -> None:
        """Say why this job failed, where clients look (job.meta), before RQ marks it failed."""
        self.meta[FAILURE_META] = {"kind": kind, "message": message}
        self.save_meta()
