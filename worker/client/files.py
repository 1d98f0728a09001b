"""A whole uploaded file: its bytes kept in Redis, read and scored by one job on the files queue, its
progress read back; one file per user at a time."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Retry
from rq import Worker as RQWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from worker import files
from worker.client.results import failure_reason, state_of
from worker.connection import reachable
from worker.queues import FAILURE_TTL_S, FILE_JOB, FILE_TIMEOUT_S, FILES, get_queue
from worker.reaper import alive_workers


def submit_file(connection: redis.Redis, name: str, data: bytes, owner: str | None = None) -> Job:
    """Keep an upload's bytes (unparsed: the worker reads them) and queue one score_file job on the files queue.

    With ``owner`` (the user's keyed hash, worker/identity.py), the user's one file slot is taken first:
    FileInProgress if a file of theirs is still being scored. The caller frees it (:func:`free_file_slot`)
    once the file is answered.
    """
    files.check_upload(name, len(data))
    with reachable(connection):
        if owner is not None:
            files.take_slot(connection, owner, lambda job_id: _file_job_ended(connection, job_id))
        try:
            file_id = files.store_upload(connection, name, data)
            job = get_queue(connection, FILES).enqueue(
                FILE_JOB,
                kwargs={"file_id": file_id},
                description=f"score a file ({len(data):,} bytes)",  # RQ logs it at INFO: never the rows
                job_timeout=FILE_TIMEOUT_S,
                result_ttl=files.FILE_TTL_S,
                failure_ttl=FAILURE_TTL_S,
                retry=Retry(max=1),
            )
        except BaseException:
            if owner is not None:
                files.free_slot(connection, owner)
            raise
        if owner is not None:
            files.hold_slot(connection, owner, job.id)
        return job


def free_file_slot(connection: redis.Redis, owner: str) -> None:
    """The user's file is answered (results, or a sentence): they may send the next one."""
    with reachable(connection):
        files.free_slot(connection, owner)


def _file_job_ended(connection: redis.Redis, job_id: str) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection, serializer=JSONSerializer).get_status(refresh=True)
    except NoSuchJobError:
        return True
    return state_of(status) in ("finished", "failed", "cancelled")


@dataclass(frozen=True)
class FileSnapshot:
    """Where a file job is: ``state`` is queued, running, finished, failed, cancelled or missing.

    ``stage`` (reading, scoring, writing), ``done``, ``total`` and ``rate`` (rows/s) come from the
    worker; while queued, ``ahead`` is the number of files before it and ``workers`` the live
    workers that take files.
    """

    state: str
    done: int = 0
    total: int = 0
    result: dict | None = None
    reason: str = ""
    stage: str = ""
    rate: float = 0.0
    ahead: int = 0
    workers: int = 0


def file_snapshot(connection: redis.Redis, job_id: str) -> FileSnapshot:
    """Read a file job's state and progress once."""
    with reachable(connection):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return FileSnapshot("missing", reason="The job scoring that file is gone (expired or removed).")
        state = state_of(job.get_status(refresh=True))
        meta = job.get_meta(refresh=True)
        progress = meta.get("file") or {}
        seen = {
            "done": int(progress.get("done", 0)),
            "total": int(progress.get("total", 0)),
            "stage": str(progress.get("stage", "")),
            "rate": float(progress.get("rate", 0.0)),
        }
        if state == "finished":
            return FileSnapshot(state, result=job.latest_result().return_value, **seen)
        if state == "failed":
            return FileSnapshot(state, reason=failure_reason(meta), **seen)
        if state == "cancelled":
            return FileSnapshot(state, reason="It was cancelled.", **seen)
        if state == "running":
            return FileSnapshot(state, **seen)
        position = get_queue(connection, FILES).get_job_position(job_id)
        return FileSnapshot(state, ahead=position or 0, workers=len(file_workers(connection)), **seen)


def file_workers(connection: redis.Redis) -> list[str]:
    """Live workers (their heartbeat is current) that take jobs from the files queue."""
    names = alive_workers(connection)
    if not names:
        return []
    prefix = RQWorker.redis_worker_namespace_prefix
    queues = [connection.hget(f"{prefix}{name}", "queues") for name in names]
    return [n for n, q in zip(names, queues, strict=True) if q and FILES in q.decode().split(",")]


def abandon_file(connection: redis.Redis, job_id: str) -> None:
    """Take a file job nobody waits for any more off the files queue (a running one finishes on its own)."""
    with reachable(connection):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return
        if state_of(job.get_status(refresh=True)) == "queued":
            get_queue(connection, FILES).remove(job_id)


def file_results(connection: redis.Redis, file_id: str) -> tuple[bytes, bytes | None]:
    """(result CSV, histogram PNG) of a scored file."""
    with reachable(connection):
        return files.fetch_results(connection, file_id)
