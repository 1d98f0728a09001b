"""Following a file job for a front end (the bot, `sentibot score --file`): when to keep waiting, when to give up.

A file is never abandoned while it moves. The watch gives up in two cases only, and says which:
no live worker takes files for ``pickup_s`` while it waits in the queue (none is running), or
the worker running it reports no progress (rows scored, or a new stage) for ``stall_s``. A file
waiting behind other users' files while file workers are alive waits, up to the hour its upload
is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from worker import client, files

NO_WORKER, STALLED, EXPIRED = "no worker", "stalled", "expired"


@dataclass
class FileWatch:
    """Look as often as you like; each look returns the job's snapshot, with ``gave_up`` set once it is hopeless."""

    job_id: str
    pickup_s: float  # FILE_PICKUP_TIMEOUT: queued this long with no live file worker: give up
    stall_s: float  # FILE_STALL_TIMEOUT: running this long with no progress: give up
    clock: Callable[[], float] = time.monotonic
    gave_up: str = ""  # NO_WORKER, STALLED or EXPIRED once given up
    _started: float = field(default=-1.0)
    _no_worker_since: float | None = None
    _progress: tuple | None = None
    _progress_at: float = 0.0

    def look(self, connection: redis.Redis) -> client.FileSnapshot:
        """The job's snapshot now: queued, running, finished or failed (a job given up on, cancelled or gone
        comes back ``failed`` with the reason to tell the user)."""
        now = self.clock()
        if self._started < 0:
            self._started = now
        snapshot = client.file_snapshot(connection, self.job_id)
        if snapshot.state in ("missing", "cancelled"):
            return client.FileSnapshot("failed", reason=snapshot.reason)
        if snapshot.state == "queued":
            return self._waiting(snapshot, now)
        if snapshot.state == "running":
            return self._running(snapshot, now)
        return snapshot

    def _waiting(self, snapshot: client.FileSnapshot, now: float) -> client.FileSnapshot:
        self._progress = None  # a file given back by a dead worker starts its progress clock again
        if snapshot.workers:
            self._no_worker_since = None
        elif self._no_worker_since is None:
            self._no_worker_since = now
        if self._no_worker_since is not None and now - self._no_worker_since >= self.pickup_s:
            return self._give_up(NO_WORKER, no_worker_reason(self.pickup_s))
        if now - self._started >= files.FILE_TTL_S:
            return self._give_up(EXPIRED, "no worker picked it up within an hour: every file worker was busy.")
        return snapshot

    def _running(self, snapshot: client.FileSnapshot, now: float) -> client.FileSnapshot:
        progress = (snapshot.stage, snapshot.done)
        if progress != self._progress:
            self._progress, self._progress_at = progress, now
        elif now - self._progress_at >= self.stall_s:
            return self._give_up(STALLED, stalled_reason(self.stall_s, snapshot.done, snapshot.total))
        return snapshot

    def _give_up(self, why: str, reason: str) -> client.FileSnapshot:
        self.gave_up = why
        return client.FileSnapshot("failed", reason=reason)


def no_worker_reason(seconds: float) -> str:
    """Why a file was given up on when nothing took it."""
    return f"no worker picked it up within {math.ceil(seconds)} s: no worker that scores files is running."


def stalled_reason(seconds: float, done: int, total: int) -> str:
    """Why a file was given up on when its worker stopped moving."""
    where = f" (it stopped at {done:,} of {total:,} reviews)" if total else ""
    return f"the worker scoring it made no progress for {math.ceil(seconds)} s{where}; please send it again later."
