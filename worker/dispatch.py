"""How a sentibot worker runs a job: only sentibot's own functions, with the worker's context.

RQ resolves a job's function by importing whatever dotted path the job names, so anyone who can
write to Redis could make a worker call ``os.system``. :class:`SentibotJob` looks the name up in
:data:`worker.jobs.JOBS` instead: any other name fails the job without importing or calling it.
A job also runs only from its own queue (:data:`worker.queues.JOB_QUEUES`): a file job put on the
score queue would hold a review worker for minutes, so it is refused there.

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
    """A job names a function that is not one of sentibot's jobs."""


class SentibotJob(Job):
    """An RQ job whose function comes from sentibot's own table, called with the worker's context."""

    context: JobContext | None = None  # set by the worker right before it runs the job

    @property
    def func(self) -> Callable[..., Any]:
        function = JOBS.get(self.func_name or "")
        if function is None:
            log.warning("refused job %s: %r is not a sentibot job", self.id, self.func_name)
            message = f"{self.func_name!r} is not a sentibot job; the worker refused to run it."
            self.record_failure(ForbiddenJob.__name__, message)
            raise ForbiddenJob(message)
        if JOB_QUEUES.get(self.func_name) != self.origin:
            log.warning("refused job %s: %r does not run from the %r queue", self.id, self.func_name, self.origin)
            message = f"{self.func_name!r} runs only from the {JOB_QUEUES.get(self.func_name)!r} queue."
            self.record_failure(ForbiddenJob.__name__, message)
            raise ForbiddenJob(message)
        return lambda *args, **kwargs: self._call(function, *args, **kwargs)

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
