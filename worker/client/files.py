"""A whole uploaded file: stored in Redis, scored by one job in chunks, its progress read back."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from worker import files
from worker.client.results import failure_reason, state_of
from worker.connection import reachable
from worker.queues import FAILURE_TTL_S, FILE_JOB, FILE_TIMEOUT_S, SCORE, get_queue

FILE_WAIT_BASE_S = 60  # how long a front end waits for a file to be scored: this long, plus...
FILE_WAIT_ROWS_PER_S = 500  # ...one second per this many rows


def file_deadline(rows: int) -> float:
    """Seconds a front end waits for a file of ``rows`` reviews before saying no worker finished it."""
    return FILE_WAIT_BASE_S + rows / FILE_WAIT_ROWS_PER_S


def submit_file(connection: redis.Redis, reviews: files.Reviews) -> Job:
    """Store a parsed upload and queue one score_file job for it."""
    with reachable(connection):
        file_id = files.store(connection, reviews)
        return get_queue(connection, SCORE).enqueue(
            FILE_JOB,
            kwargs={"file_id": file_id},
            description=f"score a file ({len(reviews.texts)} rows)",
            job_timeout=FILE_TIMEOUT_S,
            result_ttl=files.FILE_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=1),
        )


@dataclass(frozen=True)
class FileSnapshot:
    """Where a file job is: ``state`` is queued, running, finished, failed, cancelled or missing."""

    state: str
    done: int = 0
    total: int = 0
    result: dict | None = None
    reason: str = ""


def file_snapshot(connection: redis.Redis, job_id: str) -> FileSnapshot:
    """Read a file job's state and progress once."""
    with reachable(connection):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return FileSnapshot("missing", reason="The job scoring that file is gone (expired or removed).")
        state = state_of(job.get_status(refresh=True))
        meta = job.get_meta(refresh=True)
        progress = meta.get("file") or {}
        done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
        if state == "finished":
            return FileSnapshot(state, done, total, result=job.latest_result().return_value)
        if state == "failed":
            return FileSnapshot(state, done, total, reason=failure_reason(meta))
        if state == "cancelled":
            return FileSnapshot(state, done, total, reason="It was cancelled.")
        return FileSnapshot(state, done, total)


def file_results(connection: redis.Redis, file_id: str) -> tuple[bytes, bytes | None]:
    """(result CSV, histogram PNG) of a scored file."""
    with reachable(connection):
        return files.fetch_results(connection, file_id)
