"""Prometheus metrics of a worker process, and of the service as Redis sees it.

`sentibot worker --metrics-port N` (or METRICS_PORT) serves them over HTTP; off when unset. What a
worker does is counted where it happens (reviews scored by label, enqueue-to-result latency, batch
sizes, files scored); what the service looks like (queue length, workers alive, the live model,
the training) is read from Redis when Prometheus scrapes, so every worker reports the same
figures and nothing goes stale. All names start with ``sentibot_``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import redis
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.errors import SentibotError

log = logging.getLogger(__name__)

REVIEWS_SCORED = Counter("sentibot_reviews_scored", "Reviews scored by this worker, by verdict", ["label"])
LATENCY = Histogram(
    "sentibot_score_latency_seconds",
    "Seconds from a review's enqueueing to its result",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "sentibot_batch_size", "Reviews scored in one model call", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
FILES_SCORED = Counter("sentibot_files_scored", "Files scored by this worker")


def observe_scored(results: Iterable[dict], enqueued_at: Iterable[datetime | None]) -> None:
    """Count one model call's verdicts and how long each review waited for its result."""
    now = datetime.now(UTC)
    results = list(results)
    BATCH_SIZE.observe(len(results))
    for result, enqueued in zip(results, enqueued_at, strict=True):
        REVIEWS_SCORED.labels(result["label"]).inc()
        if enqueued is not None:
            if enqueued.tzinfo is None:
                enqueued = enqueued.replace(tzinfo=UTC)
            LATENCY.observe(max(0.0, (now - enqueued).total_seconds()))


class ServiceCollector(Collector):
    """Gauges read from Redis at scrape time: queue length, workers alive, live model, training."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from worker import training
        from worker.queues import SCORE, get_queue
        from worker.reaper import alive_workers
        from worker.registry import ModelRegistry

        try:
            queue_length = get_queue(self.connection, SCORE).count
            workers = len(alive_workers(self.connection))
            live = ModelRegistry(self.connection).current_meta()
            running = training.running(self.connection)
        except redis.exceptions.RedisError as exc:
            log.info("service metrics skipped: Redis does not answer (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily("sentibot_score_queue_length", "Reviews waiting on the score queue", value=queue_length)
        yield GaugeMetricFamily("sentibot_workers_alive", "Workers whose heartbeat is fresh", value=workers)
        accuracy = GaugeMetricFamily(
            "sentibot_live_model_test_accuracy", "Test accuracy of the live model", labels=["version", "arch"]
        )
        if live:
            accuracy.add_metric([live["version"], str(live.get("arch", ""))], float(live.get("test_accuracy") or 0))
        yield accuracy
        yield GaugeMetricFamily("sentibot_training_running", "1 while a training runs", value=int(bool(running)))
        epochs = len(((running or {}).get("progress") or {}).get("epochs", []))
        yield GaugeMetricFamily(
            "sentibot_training_epochs_done", "Epochs the running training has finished", value=epochs
        )


def serve(port: int, address: str, connection: redis.Redis | None = None) -> None:
    """Serve /metrics on address:port from a background thread (with the Redis gauges if a connection is
    given); the worker's and the bot's. A port that cannot be had is one sentence, not a traceback."""
    try:
        start_http_server(port, addr=address)
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SentibotError(f"Could not serve metrics on {address}:{port} ({reason}): choose another port.") from None
    if connection is not None:
        REGISTRY.register(ServiceCollector(connection))
    log.info("metrics on http://%s:%d/metrics", address, port)
