"""A training, as a front end sees it: start one (one at a time), cancel it, follow it to its end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis

from model.recipes import TrainingPlan
from worker import training
from worker.client.results import ENDED, failure_reason, state_of
from worker.connection import reachable
from worker.errors import NotFound


def start_training(connection: redis.Redis, plan: TrainingPlan, requested_by: str, timeout_s: int) -> str:
    """Queue a training (one at a time); returns its job id, raises TrainingBusy naming who holds it."""
    with reachable(connection):
        return training.start(connection, plan, requested_by, timeout_s)


def running_training(connection: redis.Redis) -> dict | None:
    """The training in progress (its lock record with ``progress`` and ``summary``), or None."""
    with reachable(connection):
        return training.running(connection)


def cancel_training(connection: redis.Redis, job_id: str | None = None) -> dict:
    """Ask the running training to stop after its current batch; raises NotFound if none runs."""
    with reachable(connection):
        return training.request_cancel(connection, job_id)


@dataclass(frozen=True)
class TrainingSnapshot:
    """Where a training job is: ``state`` is running (or waiting for a worker), finished, failed, cancelled
    or missing."""

    job_id: str
    state: str
    epochs: list[dict] = field(default_factory=list)  # one dict per finished epoch
    stage: str = ""
    result: dict | None = None  # finished: the job's return value
    chart: bytes | None = None  # finished: the PNG chart
    reason: str = ""  # failed: why, in one sentence

    @property
    def ended(self) -> bool:
        return self.state != "running"


def training_snapshot(connection: redis.Redis, job_id: str) -> TrainingSnapshot:
    """Read a training job's state and progress once."""
    with reachable(connection):
        try:
            job = training.fetch_job(connection, job_id)
        except NotFound:
            return TrainingSnapshot(job_id, "missing")
        state = state_of(job.get_status(refresh=True))
        state = state if state in ENDED else "running"
        meta = job.get_meta(refresh=True)
        progress = {"epochs": meta.get("epochs", []), "stage": meta.get("stage", "")}
        if state == "finished":
            chart = training.chart(connection, job_id)
            return TrainingSnapshot(job_id, state, result=job.latest_result().return_value, chart=chart, **progress)
        if state == "failed":
            return TrainingSnapshot(job_id, state, reason=failure_reason(meta), **progress)
        return TrainingSnapshot(job_id, state, **progress)


@dataclass
class TrainingWatch:
    """Follows one training for a front end: each look returns a snapshot only when something changed."""

    job_id: str
    _seen: tuple | None = None

    def look(self, connection: redis.Redis) -> TrainingSnapshot | None:
        """The new snapshot if the epochs, the stage or the state moved since the last look, else None."""
        snapshot = training_snapshot(connection, self.job_id)
        key = (snapshot.state, len(snapshot.epochs), snapshot.stage)
        if key == self._seen:
            return None
        self._seen = key
        return snapshot


def follow_training(
    connection: redis.Redis, job_id: str, poll_s: float = 0.5, sleep: Callable[[float], None] = time.sleep
) -> Iterator[TrainingSnapshot]:
    """Yield every change of a training until it ends (the last snapshot yielded has ``ended``)."""
    watch = TrainingWatch(job_id)
    while True:
        snapshot = watch.look(connection)
        if snapshot is not None:
            yield snapshot
            if snapshot.ended:
                return
        sleep(poll_s)
