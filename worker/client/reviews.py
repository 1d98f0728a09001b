"""One review: scored or explained by a worker, and kept a while for its "Why?" and 👍/👎 buttons."""

from __future__ import annotations

import json

import redis
import redis.asyncio
from rq import Retry
from rq.job import Job

from worker import forget
from worker.client.results import wait_result
from worker.connection import DEFAULT_URL, MAX_WAIT_S, describe, reachable
from worker.errors import QueueUnavailable
from worker.queues import (
    EXPLAIN_JOB,
    FAILURE_TTL_S,
    RANK_FEEDBACK_JOB,
    REVIEW_TTL_S,
    SCORE,
    SCORE_JOB,
    SCORE_RESULT_TTL_S,
    SCORE_TIMEOUT_S,
    get_queue,
)

REVIEW_KEY = forget.REVIEW_KEY  # a scored review and its verdict, kept for its "Why?" and 👍/👎 buttons
MAX_WAITING = 2000  # reviews waiting for a verdict at once, each on its own connection; more wait for one


def _enqueue_fast(
    connection: redis.Redis, job_name: str, description: str, owner: str | None = None, **kwargs: object
) -> Job:
    """A job on the score queue, with one retry: one whose worker died is run again by another. With an
    ``owner`` (the sender's keyed hash, never an id) it is listed under it, so /forget finds it."""
    with reachable(connection):
        job = get_queue(connection, SCORE).enqueue(
            job_name,
            kwargs=kwargs,
            description=description,  # RQ logs it at INFO: never the review itself
            job_timeout=SCORE_TIMEOUT_S,
            result_ttl=SCORE_RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=1),
        )
        if owner:
            forget.remember(connection, owner, job.id)
    return job


def submit_review(connection: redis.Redis, text: str, owner: str | None = None) -> Job:
    """Put one review on the score queue; ``owner`` (the sender's keyed hash, never an id) lets /forget find it."""
    return _enqueue_fast(connection, SCORE_JOB, f"score a review ({len(text)} chars)", owner, text=text)


def score(connection: redis.Redis, text: str, timeout_s: float) -> dict:
    """Submit a review and wait for its verdict."""
    return wait_result(submit_review(connection, text), timeout_s)


def submit_explain(connection: redis.Redis, text: str, owner: str | None = None) -> Job:
    """Put a "Why?" request for ``text`` on the score queue (listed under ``owner`` for /forget)."""
    return _enqueue_fast(connection, EXPLAIN_JOB, f"explain a review ({len(text)} chars)", owner, text=text)


def submit_rank_feedback(connection: redis.Redis) -> Job:
    """Ask a worker which stored feedback items the live model disagrees with most."""
    return _enqueue_fast(connection, RANK_FEEDBACK_JOB, "rank the stored feedback")


def explain(connection: redis.Redis, text: str, timeout_s: float) -> dict:
    """Ask a worker which words moved the live model's verdict on ``text``."""
    return wait_result(submit_explain(connection, text), timeout_s)


def connect_async(url: str) -> redis.asyncio.Redis:
    """The bot's event-loop client for waiting on results (same URL as the sync one).

    A blocking pool: past MAX_WAITING connections a waiter queues for a free one (its own deadline
    still holds) instead of failing as redis-py's default pool of 100 would.
    """
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url or DEFAULT_URL,
        max_connections=MAX_WAITING,
        timeout=None,
        socket_timeout=MAX_WAIT_S + 5,
        socket_connect_timeout=3,
        health_check_interval=30,
    )
    return redis.asyncio.Redis(connection_pool=pool)


async def keep_review_async(
    aconnection: redis.asyncio.Redis, key: str, text: str, result: dict, owner: str | None = None
) -> None:
    """Keep a scored review, its verdict and its author's hash for REVIEW_TTL_S, so a "Why?" or 👍/👎 tap
    can use them later (a rating only from the author)."""
    kept = json.dumps({"text": text, "label": result.get("label"), "model": result.get("model"), "by": owner})
    try:
        await aconnection.set(REVIEW_KEY.format(key=key), kept.encode(), ex=REVIEW_TTL_S)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise QueueUnavailable(f"The queue (Redis at {describe(aconnection)}) is not reachable right now.") from exc


def kept_verdict(connection: redis.Redis, key: str) -> dict | None:
    """``{"text", "label", "model"}`` kept under ``key``, or None once it has expired."""
    with reachable(connection):
        raw = connection.get(REVIEW_KEY.format(key=key))
    return json.loads(raw) if raw is not None else None


def kept_review(connection: redis.Redis, key: str) -> str | None:
    """The review kept under ``key``, or None once it has expired."""
    kept = kept_verdict(connection, key)
    return kept["text"] if kept is not None else None
