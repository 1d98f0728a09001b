"""Waiting for a job's result, on a thread or on the bot's event loop, and what RQ's statuses mean.

RQ 2 appends each run's outcome to a Redis stream per job; a blocking XREAD on it returns as soon
as a worker writes, so waiting costs no polling. A retried job's stream shows the failed try and
then the re-run's entry.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import redis
import redis.asyncio
from rq.job import Job, JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from worker.connection import describe, reachable
from worker.errors import JobFailed, QueueUnavailable, ScoringTimeout
from worker.queues import DIED_META, FAILURE_META

# The one reading of RQ's statuses for people: queued, running, finished, failed or cancelled.
STATES = {
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "queued",
    JobStatus.STARTED: "running",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",
    JobStatus.CANCELED: "cancelled",
}
ENDED = ("finished", "failed", "cancelled", "missing")  # "missing": the job expired or was removed


def state_of(status: JobStatus | None) -> str:
    """What a job's status means for people; an unknown one is still queued."""
    return STATES.get(status, "queued") if status is not None else "queued"


def failure_reason(meta: dict | None) -> str:
    """One sentence for a failed job, from what the worker or the reaper recorded in its meta."""
    meta = meta or {}
    failure = meta.get(FAILURE_META) or {}
    if failure.get("message"):
        return failure["message"]
    if meta.get(DIED_META):
        return "The worker running it stopped unexpectedly (killed or crashed)."
    if failure.get("kind"):
        return f"It failed with {failure['kind']}; the worker's log has the details."
    return "It failed; the worker's log has the details."


def job_failed(meta: dict | None) -> JobFailed:
    """The error to raise for a failed job: its sentence and the kind of error the worker recorded."""
    return JobFailed(failure_reason(meta), kind=((meta or {}).get(FAILURE_META) or {}).get("kind"))


def no_verdict(timeout_s: float) -> ScoringTimeout:
    return ScoringTimeout(
        f"Could not get a verdict within {math.ceil(timeout_s)} s: the service is busy or no scoring worker is running."
    )


SUCCEEDED, FAILED, PENDING = "succeeded", "failed", "pending"


@dataclass
class ResultStream:
    """Reading one job's result stream up to a deadline: the sync and async waits share it."""

    job_id: str
    timeout_s: float
    last_id: str = "0-0"
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s

    @property
    def key(self) -> str:
        return Result.get_key(self.job_id)

    def block_ms(self) -> int | None:
        """How long the next XREAD may block; None once the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        return max(1, int(remaining * 1000)) if remaining > 0 else None

    def outcome(self, response: list) -> tuple[str, object]:
        """What the newest entry of an XREAD response says: (SUCCEEDED, value), (FAILED, None), or
        (PENDING, None) for a retry or an empty response."""
        if not response:
            self.deadline = 0.0  # XREAD blocked until the deadline: nothing came
            return PENDING, None
        entry_id, payload = response[0][1][-1]
        self.last_id = entry_id
        result = Result.restore(self.job_id, entry_id.decode(), payload, connection=None, serializer=JSONSerializer)
        if result.type == Result.Type.SUCCESSFUL:
            return SUCCEEDED, result.return_value
        if result.type in (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED, Result.Type.STOPPED):
            return FAILED, None
        return PENDING, None


def wait_result(job: Job, timeout_s: float) -> dict:
    """Block until the job has a final result; raise JobFailed or ScoringTimeout otherwise."""
    stream = ResultStream(job.id, timeout_s)
    with reachable(job.connection):
        while (block := stream.block_ms()) is not None:
            outcome, value = stream.outcome(job.connection.xread({stream.key: stream.last_id}, block=block))
            if outcome == SUCCEEDED:
                return value
            if outcome == FAILED:
                raise job_failed(job.get_meta(refresh=True))
    raise no_verdict(timeout_s)


async def wait_result_async(aconnection: redis.asyncio.Redis, job_id: str, timeout_s: float) -> dict:
    """:func:`wait_result` for the bot's event loop: no thread is held, so any number of reviews can wait.

    Each waiting review is one blocking XREAD on its own pooled connection; the deadline holds even
    if Redis itself stalls.
    """
    stream = ResultStream(job_id, timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            while (block := stream.block_ms()) is not None:
                outcome, value = stream.outcome(await aconnection.xread({stream.key: stream.last_id}, block=block))
                if outcome == SUCCEEDED:
                    return value
                if outcome == FAILED:
                    raw_meta = await aconnection.hget(Job.key_for(job_id), "meta")
                    raise job_failed(JSONSerializer.loads(raw_meta) if raw_meta else None)
    except TimeoutError:
        pass
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise QueueUnavailable(
            f"The queue (Redis at {describe(aconnection)}) is not reachable right now; try again in a moment."
        ) from exc
    raise no_verdict(timeout_s)
