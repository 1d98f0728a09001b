"""Redis connections and the translation of Redis outages into one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from worker.errors import QueueUnavailable

DEFAULT_URL = "redis://127.0.0.1:6379/0"
MAX_WAIT_S = 60  # longest blocking read we ever do; the socket timeout must exceed it


def connect(url: str) -> redis.Redis:
    """A client whose socket timeout outlasts RQ's blocking waits (redis-py's 5 s default breaks them)."""
    return redis.Redis.from_url(
        url or DEFAULT_URL,
        socket_timeout=MAX_WAIT_S + 5,
        socket_connect_timeout=3,
        health_check_interval=30,
    )


def describe(connection: redis.Redis) -> str:
    """host:port of a connection, for messages (never the password)."""
    kwargs = connection.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


@contextmanager
def reachable(connection: redis.Redis) -> Iterator[None]:
    """Turn redis-py's connection errors into :class:`QueueUnavailable` with one sentence."""
    try:
        yield
    except redis.exceptions.OutOfMemoryError as exc:  # maxmemory reached; noeviction keeps what is queued
        raise QueueUnavailable(
            "The queue is full right now (Redis reached its memory limit); try again in a few minutes."
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise QueueUnavailable(
            f"The queue (Redis at {describe(connection)}) is not reachable right now; try again in a moment."
        ) from exc
