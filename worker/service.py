"""Blocking calls the front ends (bot, terminal chat) make, each a plain function of a connection."""

from __future__ import annotations

import base64

import redis
from rq.job import JobStatus

from worker import training
from worker.client import failure_reason
from worker.connection import reachable
from worker.queues import SCORE, TRAIN, get_queue
from worker.reaper import alive_workers
from worker.registry import ModelRegistry


def live_model(connection: redis.Redis) -> dict | None:
    """The live model's registry record."""
    with reachable(connection):
        return ModelRegistry(connection).current_meta()


def service_status(connection: redis.Redis) -> tuple[int, int, int, dict | None]:
    """(reviews waiting, trainings waiting, workers alive, training in progress)."""
    with reachable(connection):
        return (
            get_queue(connection, SCORE).count,
            get_queue(connection, TRAIN).count,
            len(alive_workers(connection)),
            training.running(connection),
        )


def training_state(connection: redis.Redis, job_id: str) -> dict:
    """Where a training job is: ``{"state": running|finished|failed|cancelled|missing, ...}``."""
    with reachable(connection):
        try:
            job = training.fetch_job(connection, job_id)
        except training.NotFound:
            return {"state": "missing"}
        status = job.get_status(refresh=True)
        meta = job.get_meta(refresh=True)
        if status == JobStatus.FINISHED:
            result = job.latest_result().return_value
            chart = base64.b64decode(result.pop("chart_png")) if result.get("chart_png") else None
            return {"state": "finished", "result": result, "chart": chart, "meta": meta}
        if status in (JobStatus.FAILED, JobStatus.STOPPED):
            latest = job.latest_result()
            return {"state": "failed", "reason": failure_reason(latest.exc_string if latest else None), "meta": meta}
        if status == JobStatus.CANCELED:
            return {"state": "cancelled", "meta": meta}
        return {"state": "running", "status": str(status), "meta": meta}
