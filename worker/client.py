"""The client side of the queue: what the bot and the `sentibot score` command call.

Nothing here imports TensorFlow. Every Redis failure becomes :class:`QueueUnavailable`, every
failed job :class:`JobFailed` with a sentence, and a wait that runs out :class:`ScoringTimeout`.
"""

from __future__ import annotations

import re
import time

import redis
from rq import Retry
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from worker.connection import reachable
from worker.errors import JobFailed, ScoringTimeout
from worker.queues import (
    EXPLAIN_JOB,
    FAILURE_TTL_S,
    REVIEW_TTL_S,
    SCORE,
    SCORE_JOB,
    SCORE_RESULT_TTL_S,
    SCORE_TIMEOUT_S,
    get_queue,
)

REVIEW_KEY = "sentibot:review:{key}"  # a scored review's text, kept for its "Why?" button

_LAST_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+): (.+)$")
_OWN_ERRORS = {
    "ModelUnavailable",
    "DatasetNotFound",
    "DatasetInvalid",
    "DatasetUnavailable",
    "UnknownArchitecture",
    "BundleCorrupt",
    "ModelNotFound",
    "NotFound",
}


def failure_reason(exc_string: str | None) -> str:
    """One sentence for a failed job's traceback: our own errors verbatim, others by kind."""
    lines = [line for line in (exc_string or "").strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if "AbandonedJobError" in last:
        return "The worker running it stopped unexpectedly (killed or crashed)."
    if "JobTimeoutException" in last:
        return "It took longer than its time limit and was stopped."
    match = _LAST_LINE.match(last)
    if match and match[1] in _OWN_ERRORS:
        return match[2]
    kind = match[1] if match else "an unexpected error"
    return f"It failed with {kind}; the worker's log has the details."


def _enqueue_fast(connection: redis.Redis, job_name: str, **kwargs: object) -> Job:
    """A job on the score queue, with one retry: one whose worker died is run again by another."""
    with reachable(connection):
        return get_queue(connection, SCORE).enqueue(
            job_name,
            kwargs=kwargs,
            job_timeout=SCORE_TIMEOUT_S,
            result_ttl=SCORE_RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=1),
        )


def submit_review(connection: redis.Redis, text: str, chat_id: int | None = None, user_id: int | None = None) -> Job:
    """Put one review on the score queue."""
    return _enqueue_fast(connection, SCORE_JOB, text=text, chat_id=chat_id, user_id=user_id)


def wait_result(job: Job, timeout_s: float) -> dict:
    """Block until the job has a final result; raise JobFailed or ScoringTimeout otherwise."""
    key = Result.get_key(job.id)
    last_id = "0-0"
    deadline = time.monotonic() + timeout_s
    with reachable(job.connection):
        while (remaining := deadline - time.monotonic()) > 0:
            response = job.connection.xread({key: last_id}, block=max(1, int(remaining * 1000)))
            if not response:
                break
            entry_id, payload = response[0][1][-1]
            last_id = entry_id
            result = Result.restore(
                job.id, entry_id.decode(), payload, connection=job.connection, serializer=JSONSerializer
            )
            if result.type == Result.Type.SUCCESSFUL:
                return result.return_value
            if result.type in (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED, Result.Type.STOPPED):
                raise JobFailed(failure_reason(result.exc_string))
            # RETRIED: it is back on the queue; keep waiting for the re-run
    raise ScoringTimeout(
        f"No scoring worker answered within {timeout_s:g} s: the service is busy or no worker is running."
    )


def score(connection: redis.Redis, text: str, timeout_s: float = 8, **context: int | None) -> dict:
    """Submit a review and wait for its verdict."""
    return wait_result(submit_review(connection, text, **context), timeout_s)


def keep_review(connection: redis.Redis, key: str, text: str) -> None:
    """Keep a scored review for REVIEW_TTL_S so a "Why?" tap can explain it later."""
    with reachable(connection):
        connection.set(REVIEW_KEY.format(key=key), text.encode(), ex=REVIEW_TTL_S)


def kept_review(connection: redis.Redis, key: str) -> str | None:
    """The review kept under ``key``, or None once it has expired."""
    with reachable(connection):
        raw = connection.get(REVIEW_KEY.format(key=key))
    return raw.decode() if raw is not None else None


def explain(connection: redis.Redis, text: str, timeout_s: float = 8) -> dict:
    """Ask a worker which words moved the live model's verdict on ``text``."""
    return wait_result(_enqueue_fast(connection, EXPLAIN_JOB, text=text), timeout_s)
