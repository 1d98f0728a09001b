"""The service as a whole: the live model and the queues' figures, for /model and /status."""

from __future__ import annotations

import redis

from worker import training
from worker.connection import reachable
from worker.queues import SCORE, TRAIN, get_queue
from worker.reaper import alive_workers
from worker.registry import ModelRegistry


def live_model(connection: redis.Redis) -> dict | None:
    """The live model's registry record."""
    with reachable(connection):
        return ModelRegistry(connection).current_meta()


def better_model_training(connection: redis.Redis) -> dict | None:
    """The first start's training of the default in the background (its lock record with progress), if it runs."""
    with reachable(connection):
        running = training.running(connection)
    return running if running and running.get("requested_by") == training.FIRST_START_DEFAULT else None


def service_status(connection: redis.Redis) -> tuple[int, int, int, dict | None]:
    """(reviews waiting, trainings waiting, workers alive, training in progress)."""
    with reachable(connection):
        return (
            get_queue(connection, SCORE).count,
            get_queue(connection, TRAIN).count,
            len(alive_workers(connection)),
            training.running(connection),
        )
