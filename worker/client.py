"""Everything a front end (the bot, the terminal chat, `sentibot score`, `sentibot up`) asks of the queue side.

Nothing here imports TensorFlow. Every Redis failure becomes :class:`QueueUnavailable`, every
failed job :class:`JobFailed` with the sentence the worker recorded, and a wait that runs out
:class:`ScoringTimeout`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis
import redis.asyncio
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from model.recipes import TrainingPlan
from worker import files, training
from worker.connection import DEFAULT_URL, MAX_WAIT_S, describe, reachable
from worker.errors import JobFailed, NotFound, QueueUnavailable, ScoringTimeout
from worker.queues import (
    DIED_META,
    EXPLAIN_JOB,
    FAILURE_META,
    FAILURE_TTL_S,
    FILE_JOB,
    FILE_TIMEOUT_S,
    REVIEW_TTL_S,
    SCORE,
    SCORE_JOB,
    SCORE_RESULT_TTL_S,
    SCORE_TIMEOUT_S,
    TRAIN,
    get_queue,
)
from worker.reaper import alive_workers
from worker.registry import ModelRegistry

REVIEW_KEY = "sentibot:review:{key}"  # a scored review and its verdict, kept for its "Why?" and 👍/👎 buttons


# --- Why a job failed ---------------------------------------------------------------------------


def failure_reason(meta: dict | None) -> str:
    """One sentence for a failed job, from what the worker or the reaper recorded in its meta."""
    meta = meta or {}
    failure = meta.get(FAILURE_META) or {}
    if failure.get("message"):
        return failure["message"]
    if meta.get(DIED_META):
        return "The worker running it stopped unexpectedly (killed or crashed)."
    if failure.get("kind"):
        return f"It failed with {failure['kind']}; the worker's log has the details."
    return "It failed; the worker's log has the details."


def job_failed(meta: dict | None) -> JobFailed:
    """The error to raise for a failed job: its sentence and the kind of error the worker recorded."""
    return JobFailed(failure_reason(meta), kind=((meta or {}).get(FAILURE_META) or {}).get("kind"))


# --- Scoring and explaining -------------------------------------------------------------------


def _enqueue_fast(connection: redis.Redis, job_name: str, description: str, **kwargs: object) -> Job:
    """A job on the score queue, with one retry: one whose worker died is run again by another."""
    with reachable(connection):
        return get_queue(connection, SCORE).enqueue(
            job_name,
            kwargs=kwargs,
            description=description,  # RQ logs it at INFO: never the review itself
            job_timeout=SCORE_TIMEOUT_S,
            result_ttl=SCORE_RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=1),
        )


def submit_review(connection: redis.Redis, text: str, chat_id: int | None = None, user_id: int | None = None) -> Job:
    """Put one review on the score queue."""
    return _enqueue_fast(
        connection, SCORE_JOB, f"score a review ({len(text)} chars)", text=text, chat_id=chat_id, user_id=user_id
    )


SUCCEEDED, FAILED, PENDING = "succeeded", "failed", "pending"


def _read_entry(job_id: str, entry_id: bytes, payload: dict) -> tuple[str, object]:
    """What one entry of a job's result stream says: (SUCCEEDED, value), (FAILED, None) or (PENDING, None)
    for a retry, after which the re-run's entry follows."""
    result = Result.restore(job_id, entry_id.decode(), payload, connection=None, serializer=JSONSerializer)
    if result.type == Result.Type.SUCCESSFUL:
        return SUCCEEDED, result.return_value
    if result.type in (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED, Result.Type.STOPPED):
        return FAILED, None
    return PENDING, None


def _no_verdict(timeout_s: float) -> ScoringTimeout:
    return ScoringTimeout(
        f"Could not get a verdict within {math.ceil(timeout_s)} s: the service is busy or no scoring worker is running."
    )


def wait_result(job: Job, timeout_s: float) -> dict:
    """Block until the job has a final result; raise JobFailed or ScoringTimeout otherwise."""
    key = Result.get_key(job.id)
    last_id = "0-0"
    deadline = time.monotonic() + timeout_s
    with reachable(job.connection):
        while (remaining := deadline - time.monotonic()) > 0:
            response = job.connection.xread({key: last_id}, block=max(1, int(remaining * 1000)))
            if not response:
                break
            last_id, payload = response[0][1][-1]
            outcome, value = _read_entry(job.id, last_id, payload)
            if outcome == SUCCEEDED:
                return value
            if outcome == FAILED:
                raise job_failed(job.get_meta(refresh=True))
    raise _no_verdict(timeout_s)


async def wait_result_async(aconnection: redis.asyncio.Redis, job_id: str, timeout_s: float) -> dict:
    """:func:`wait_result` for the bot's event loop: no thread is held, so any number of reviews can wait.

    Each waiting review is one blocking XREAD on its own pooled connection; the deadline holds even
    if Redis itself stalls.
    """
    key = Result.get_key(job_id)
    last_id = "0-0"
    deadline = time.monotonic() + timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            while (remaining := deadline - time.monotonic()) > 0:
                response = await aconnection.xread({key: last_id}, block=max(1, int(remaining * 1000)))
                if not response:
                    break
                last_id, payload = response[0][1][-1]
                outcome, value = _read_entry(job_id, last_id, payload)
                if outcome == SUCCEEDED:
                    return value
                if outcome == FAILED:
                    raw_meta = await aconnection.hget(Job.key_for(job_id), "meta")
                    raise job_failed(JSONSerializer.loads(raw_meta) if raw_meta else None)
    except TimeoutError:
        pass
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise QueueUnavailable(
            f"The queue (Redis at {describe(aconnection)}) is not reachable right now; try again in a moment."
        ) from exc
    raise _no_verdict(timeout_s)


MAX_WAITING = 2000  # reviews waiting for a verdict at once, each on its own connection; more wait for one


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


def score(connection: redis.Redis, text: str, timeout_s: float = 8, **context: int | None) -> dict:
    """Submit a review and wait for its verdict."""
    return wait_result(submit_review(connection, text, **context), timeout_s)


async def keep_review_async(aconnection: redis.asyncio.Redis, key: str, text: str, result: dict) -> None:
    """Keep a scored review and its verdict for REVIEW_TTL_S, so a "Why?" or 👍/👎 tap can use them later."""
    kept = json.dumps({"text": text, "label": result.get("label"), "model": result.get("model")})
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


def submit_explain(connection: redis.Redis, text: str) -> Job:
    """Put a "Why?" request for ``text`` on the score queue."""
    return _enqueue_fast(connection, EXPLAIN_JOB, f"explain a review ({len(text)} chars)", text=text)


def explain(connection: redis.Redis, text: str, timeout_s: float = 8) -> dict:
    """Ask a worker which words moved the live model's verdict on ``text``."""
    return wait_result(submit_explain(connection, text), timeout_s)


# --- Whole files -------------------------------------------------------------------------------


def submit_file(connection: redis.Redis, reviews: files.Reviews, chat_id: int | None = None) -> Job:
    """Store a parsed upload and queue one score_file job for it."""
    with reachable(connection):
        file_id = files.store(connection, reviews)
        return get_queue(connection, SCORE).enqueue(
            FILE_JOB,
            kwargs={"file_id": file_id, "chat_id": chat_id},
            description=f"score a file ({len(reviews.texts)} rows)",
            job_timeout=FILE_TIMEOUT_S,
            result_ttl=files.FILE_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=1),
        )


@dataclass(frozen=True)
class FileSnapshot:
    """Where a file job is: ``state`` is queued, running, finished, failed or missing."""

    state: str
    done: int = 0
    total: int = 0
    result: dict | None = None
    reason: str = ""


def file_snapshot(connection: redis.Redis, job_id: str) -> FileSnapshot:
    """Read a file job's state and progress once."""
    with reachable(connection):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return FileSnapshot("missing", reason="The job scoring that file is gone (expired or removed).")
        status = job.get_status(refresh=True)
        meta = job.get_meta(refresh=True)
        progress = meta.get("file") or {}
        done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
        if status == JobStatus.FINISHED:
            return FileSnapshot("finished", done, total, result=job.latest_result().return_value)
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            return FileSnapshot("failed", done, total, reason=failure_reason(meta))
        return FileSnapshot("running" if status == JobStatus.STARTED else "queued", done, total)


def file_results(connection: redis.Redis, file_id: str) -> tuple[bytes, bytes | None]:
    """(result CSV, histogram PNG) of a scored file."""
    with reachable(connection):
        return files.fetch_results(connection, file_id)


# --- The service --------------------------------------------------------------------------------


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


# --- Training -----------------------------------------------------------------------------------


def start_training(
    connection: redis.Redis,
    plan: TrainingPlan,
    requested_by: str,
    chat_id: int | None = None,
    timeout_s: int = 3600,
) -> str:
    """Queue a training (one at a time); returns its job id, raises TrainingBusy naming who holds it."""
    with reachable(connection):
        return training.start(
            connection,
            plan.arch,
            plan.epochs,
            plan.batch_size,
            requested_by,
            chat_id,
            timeout_s,
            plan.sentences,
            plan.feedback,
        )


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
    """Where a training job is: ``state`` is running, finished, failed, cancelled or missing."""

    job_id: str
    state: str
    epochs: list[dict] = field(default_factory=list)  # one dict per finished epoch
    stage: str = ""
    result: dict | None = None  # finished: the job's return value, without the chart
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
        status = job.get_status(refresh=True)
        meta = job.get_meta(refresh=True)
        progress = {"epochs": meta.get("epochs", []), "stage": meta.get("stage", "")}
        if status == JobStatus.FINISHED:
            result = dict(job.latest_result().return_value)
            chart = base64.b64decode(result.pop("chart_png")) if result.get("chart_png") else None
            return TrainingSnapshot(job_id, "finished", result=result, chart=chart, **progress)
        if status in (JobStatus.FAILED, JobStatus.STOPPED):
            return TrainingSnapshot(job_id, "failed", reason=failure_reason(meta), **progress)
        if status == JobStatus.CANCELED:
            return TrainingSnapshot(job_id, "cancelled", **progress)
        return TrainingSnapshot(job_id, "running", **progress)


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
