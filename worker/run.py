"""The worker process: load the live model first, then take jobs until SIGTERM.

SIGTERM, in every state, ends the process within seconds: idle, it exits at once; scoring, it
finishes the batch in hand (milliseconds) and claims no more; training, the training stops at
its next batch and is reported as interrupted by shutdown (its lock released); with Redis down,
it stops retrying and exits. A lost Redis connection is otherwise retried every few seconds.
"""

from __future__ import annotations

import logging
import signal
import threading

import redis
from rq import Queue, Worker

from common.settings import Settings
from worker import health, metrics
from worker.connection import connect, describe
from worker.dispatch import SentibotJob
from worker.errors import ModelUnavailable
from worker.model_cache import ModelCache
from worker.queues import FILES, QUEUES, SCORE, TRAIN, get_queue
from worker.reaper import Heartbeat
from worker.scoring import SentibotWorker

log = logging.getLogger(__name__)
RECONNECT_S = 2.0


def build_worker(
    connection: redis.Redis,
    queues: list[str],
    settings: Settings,
    models: ModelCache | None = None,
    name: str | None = None,
    stopping: threading.Event | None = None,
) -> SentibotWorker:
    """A SentibotWorker on the named queues, running its jobs with these settings and this model cache."""
    return SentibotWorker(
        [get_queue(connection, q, SentibotJob) for q in queues],
        settings=settings,
        models=models or ModelCache(),
        stopping=stopping,
        connection=connection,
        name=name,
    )


def announce_queues(connection: redis.Redis, queues: list) -> None:
    """List the queues in RQ's set of queues now, not at their first job, so dashboards show them empty."""
    connection.sadd(Queue.redis_queues_keys, *[queue.key for queue in queues])


def warm_up(connection: redis.Redis, models: ModelCache) -> None:
    """Load the live model before taking the first job (rq's performance notes)."""
    try:
        predictor = models.get_predictor(connection)
        log.info("model %s loaded", predictor.version)
    except ModelUnavailable as exc:
        log.warning("%s Score jobs will fail until one is promoted.", exc)


def name_for_this_start(connection: redis.Redis, given: str | None, starts: int) -> str:
    """The name the given (``--name``) on a first start, unless RQ still counts a worker of that name as
    alive (a SIGKILLed predecessor); every other start gets a fresh one (health.worker_name)."""
    if given and starts == 0:
        key = Worker.redis_worker_namespace_prefix + given
        if not (connection.exists(key) and not connection.hexists(key, "death")):
            return given
        log.warning("a worker named %s is still registered (killed?): working under a fresh name", given)
    return health.worker_name(given)


def run(settings: Settings, queues: list[str], name: str | None = None, burst: bool = False) -> None:
    """Work until SIGTERM, reconnecting to Redis whenever it goes away.

    Whatever ends the work loop without a stop request (RQ quits on a Redis error while it records a
    job, say) is survived: the process waits for Redis and goes on under a fresh name. The old name's
    heartbeat is left to expire, not withdrawn, so the reaper gives back the job it had in hand.
    """
    from model.native_logs import load_tensorflow

    load_tensorflow()  # now, quietly: its C init holds the GIL for seconds and prints C++ start-up lines
    connection = connect(settings.redis_url)
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_address, connection)
    models = ModelCache(settings.home / "worker-bundles")  # this process's one model cache
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())  # RQ installs its own inside work()
    starts = 0
    while not stopping.is_set():
        try:
            connection.ping()
            if SCORE in queues or FILES in queues:
                warm_up(connection, models)
            if TRAIN in queues:
                import model.train  # noqa: F401 - the training code too, before the heartbeat thread starts

                if settings.train_on_first_start:
                    health.first_training(connection, settings)
            worker_name = name_for_this_start(connection, name, starts)
            starts += 1
            worker = build_worker(connection, queues, settings, models, worker_name, stopping)
            announce_queues(connection, worker.queues)
            heartbeat = Heartbeat(connection, worker.name)
            heartbeat.start()
            clean = False
            try:
                worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=False)
                clean = burst or stopping.is_set()
            finally:
                heartbeat.stop(withdraw=clean or stopping.is_set())
                signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())  # RQ's handlers are gone
            if clean:
                break
            log.warning(
                "the work loop of %s ended without a stop request (see above); its job in hand goes back to "
                "the queue, and work goes on under a fresh name",
                worker.name,
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if stopping.is_set():
                break
            log.warning("Redis at %s is not reachable; retrying in %.0f s", describe(connection), RECONNECT_S)
        stopping.wait(RECONNECT_S)
    log.info("worker stopped")


def parse_queues(raw: str) -> list[str]:
    """'score,train' → ['score', 'train'], refusing unknown names."""
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [n for n in names if n not in QUEUES]
    if unknown or not names:
        raise ValueError(f"unknown queue {', '.join(unknown) or '(none)'}: use score, files, train or a list of them")
    return names
