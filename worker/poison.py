"""Poison jobs: a review or batch that kills every worker that takes it is failed after three tries.

The reaper gives a dead worker's jobs back to the queue; a job that itself kills workers (a review
that makes the model run out of memory, say) would come back forever and take a worker down each
time. Every time the reaper gives a job back, it counts the crash in ``sentibot:crashes:<id>``; a
job that has crashed a worker once is never batched again (run alone, it cannot take innocent
reviews down with it), and at MAX_CRASHES it is failed with its reason and not run again.
"""

from __future__ import annotations

import logging

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from worker.queues import FAILURE_META, FAILURE_TTL_S, get_queue

log = logging.getLogger(__name__)

CRASHES = "sentibot:crashes:"  # + job id: how many workers died holding it
MAX_CRASHES = 3
CRASHES_TTL_S = 24 * 3600


def count_crash(connection: redis.Redis, job_id: str) -> int:
    """Count one more worker that died holding this job; return the total."""
    with connection.pipeline() as pipe:
        pipe.incr(CRASHES + job_id)
        pipe.expire(CRASHES + job_id, CRASHES_TTL_S)
        crashes, _ = pipe.execute()
    return int(crashes)


def crashed_before(connection: redis.Redis, ids: list[str]) -> set[str]:
    """The ids among these whose job has already been in hand when a worker died (one MGET)."""
    if not ids:
        return set()
    counts = connection.mget([CRASHES + job_id for job_id in ids])
    return {job_id for job_id, count in zip(ids, counts, strict=True) if count is not None}


def fail_poisoned(connection: redis.Redis, job_id: str, crashes: int) -> None:
    """Fail a job that crashed ``crashes`` workers: its reason where clients read it, RQ's failed status
    and failure result (a waiting bot reads that at once); it is not retried."""
    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:  # expired or deleted: nothing left to fail
        return
    reason = f"It crashed {crashes} workers, so it was not run again."
    job.meta[FAILURE_META] = {"kind": "PoisonJob", "message": reason}
    job.save_meta()
    queue = get_queue(connection, job.origin)
    with connection.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        queue.failed_job_registry.add(job, ttl=FAILURE_TTL_S, exc_string=reason, pipeline=pipe)
        Result.create_failure(job, FAILURE_TTL_S, reason, pipeline=pipe)
        pipe.execute()
    log.warning("job %s crashed %d workers: failed, not retried", job_id, crashes)
