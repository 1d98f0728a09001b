"""/forget: everything the service holds of one user, found by the user's keyed hash and deleted.

Reviews are tied to their sender only through that hash: each review or Why? job a user sends is
listed under ``sentibot:owner:<hash>`` (kept as long as a failed job is), and the review kept for
its buttons records its author's hash (only the author may rate it). /forget deletes, for each of
those jobs, the kept review, the job itself (its arguments hold the text: queued, finished or failed
alike), its results and its registry entries, and then the user's 👍/👎 items.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq.job import Job
from rq.results import Result

from worker import feedback
from worker.connection import reachable
from worker.queues import FAILURE_TTL_S, SCORE, get_queue

OWNED = "sentibot:owner:{owner}"  # set of the job ids of one user's reviews and Why? requests
REVIEW_KEY = "sentibot:review:{key}"  # a scored review and its verdict, kept for its "Why?" and 👍/👎 buttons


def remember(connection: redis.Redis, owner: str, job_id: str) -> None:
    """List a job under its sender's hash, so /forget can find it."""
    key = OWNED.format(owner=owner)
    with connection.pipeline() as pipe:
        pipe.sadd(key, job_id)
        pipe.expire(key, FAILURE_TTL_S)
        pipe.execute()


@dataclass(frozen=True)
class Forgotten:
    """What /forget deleted."""

    rated: int  # 👍/👎 items
    reviews: int  # reviews (and Why? requests) with their jobs, results and kept copies


def forget_user(connection: redis.Redis, owners: list[str]) -> Forgotten:
    """Delete every review, job, result and rating of the user behind these hashes."""
    queue = get_queue(connection, SCORE)
    registries = [queue.failed_job_registry, queue.finished_job_registry, queue.started_job_registry]
    reviews = 0
    with reachable(connection):
        for owner in owners:
            key = OWNED.format(owner=owner)
            ids = [raw.decode() for raw in connection.smembers(key)]
            with connection.pipeline() as pipe:
                for job_id in ids:
                    pipe.delete(REVIEW_KEY.format(key=job_id), Job.key_for(job_id), Result.get_key(job_id))
                    pipe.lrem(queue.key, 0, job_id)
                    for registry in registries:
                        pipe.zrem(registry.key, job_id)
                pipe.delete(key)
                pipe.execute()
            for registry in registries[2:]:  # started entries are "<job id>:<execution id>"
                for member in connection.zrange(registry.key, 0, -1):
                    if member.decode().split(":", 1)[0] in ids:
                        connection.zrem(registry.key, member)
            reviews += len(ids)
    return Forgotten(rated=feedback.forget(connection, owners), reviews=reviews)
