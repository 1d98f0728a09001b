"""One training at a time: the lock, cancel requests and progress, shared by the bot and the job.

This module never imports TensorFlow: the bot uses it (through worker.client) to start, cancel
and watch trainings. The lock names who started the run, so a second request can be told who
holds it. Taking it is one SET NX; clearing it (stale, cancelled, finished) is a compare-and-delete,
so two admins racing can never both start a training.
"""

from __future__ import annotations

import json
import time
import uuid

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from model.recipes import TrainingPlan
from worker.errors import NotFound, TrainingBusy
from worker.queues import FAILURE_TTL_S, TRAIN, TRAIN_JOB, TRAIN_RESULT_TTL_S, get_queue
from worker.reaper import ALIVE

FIRST_START = "the first start"  # who a first-start training is requested by: the fast first model...
FIRST_START_DEFAULT = "the first start (the default, in the background)"  # ...then the default, if that is slower
LOCK = "sentibot:train:lock"
STARTING_S = 30  # a lock whose job is not enqueued yet is a training starting, not a stale lock, this long
CANCEL = "sentibot:train:cancel:{job_id}"
CHART = "sentibot:train:chart:{job_id}"  # a finished training's PNG chart, kept as long as its result
_ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED}
# Delete the lock only if it still holds what we read: a lock taken meanwhile by a new training survives.
_DELETE_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _delete_lock_if(connection: redis.Redis, raw: bytes) -> None:
    connection.register_script(_DELETE_IF_SAME)(keys=[LOCK], args=[raw])


def fetch_job(connection: redis.Redis, job_id: str) -> Job:
    """The job with that id; raises NotFound."""
    try:
        return Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        raise NotFound(f"No job {job_id}.") from None


def _holder(connection: redis.Redis) -> tuple[bytes | None, dict | None]:
    """(the lock as stored, the training holding it with its live progress); (raw, None) for a stale lock.

    A lock whose job has ended, vanished or lost its worker (killed) is stale; one taken in the last
    STARTING_S seconds whose job is not there yet is a training being started (the lock is taken
    before the job is enqueued), never stale.
    """
    raw = connection.get(LOCK)
    if raw is None:
        return None, None
    record = json.loads(raw)
    try:
        job = fetch_job(connection, record["job_id"])
    except NotFound:
        job = None
    if job is None and time.time() - record.get("taken_at", 0) < STARTING_S:
        return raw, {**record, "status": "starting", "progress": {}, "summary": "starting"}  # being enqueued now
    if job is None or job.get_status(refresh=True) in _ENDED or _orphaned(connection, job):
        return raw, None
    holder = {**record, "status": job.get_status(), "progress": job.get_meta(refresh=True)}
    return raw, {**holder, "summary": describe_progress(holder)}


def _orphaned(connection: redis.Redis, job: Job) -> bool:
    """A started job whose worker stopped beating (killed, or stopped with Redis and the rest of its stack,
    the job still in hand): nobody will finish it, though RQ calls it started until it cleans up (minutes).
    Every sentibot worker beats from before it takes its first job."""
    worker = job.worker_name
    if job.get_status() != JobStatus.STARTED or not worker:
        return False
    return not connection.exists(ALIVE.format(name=worker))


def running(connection: redis.Redis) -> dict | None:
    """The lock record of the training in progress (with its live progress), or None. Only reads: a
    stale lock is cleared by the next :func:`start`."""
    return _holder(connection)[1]


def start(
    connection: redis.Redis,
    plan: TrainingPlan,
    requested_by: str,
    timeout_s: int,
) -> str:
    """Take the lock and enqueue a training of ``plan``; raises TrainingBusy naming who holds the lock."""
    job_id = f"train-{uuid.uuid4().hex[:12]}"
    record = {
        "job_id": job_id,
        "requested_by": requested_by,
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "taken_at": time.time(),
        **plan.to_dict(),
    }
    for _ in range(2):  # second try after clearing a stale lock
        if connection.set(LOCK, json.dumps(record), nx=True, ex=timeout_s + 600):
            break
        raw, holder = _holder(connection)
        if holder is None and raw is not None:
            _delete_lock_if(connection, raw)  # stale: its job ended or vanished (a killed worker)
        elif holder is not None:
            raise TrainingBusy(
                f"A training is already running: started by {holder['requested_by']} at {holder['started_at']}"
                f" ({holder['summary']}).",
                holder,
            )
    else:
        raise TrainingBusy("A training is already starting; try again in a moment.", {})
    get_queue(connection, TRAIN).enqueue(
        TRAIN_JOB,
        kwargs={"plan": plan.to_dict(), "requested_by": requested_by},
        job_id=job_id,
        job_timeout=timeout_s,
        result_ttl=TRAIN_RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"train {plan.arch} for {plan.epochs} epochs (by {requested_by})",
    )
    return job_id


def describe_progress(holder: dict) -> str:
    """'epoch 2/5' or the stage, for people."""
    progress = holder.get("progress") or {}
    done = progress.get("epochs", [])
    if done:
        return f"epoch {len(done)}/{holder.get('epochs', '?')} done"
    return progress.get("stage") or (
        "waiting for a training worker" if holder.get("status") == "queued" else "starting"
    )


def request_cancel(connection: redis.Redis, job_id: str | None = None) -> dict:
    """Ask the running (or queued) training to stop; returns its lock record."""
    holder = running(connection)
    if holder is None or (job_id and holder["job_id"] != job_id):
        raise NotFound("No training is running.")
    job = fetch_job(connection, holder["job_id"])
    if job.get_status() == JobStatus.QUEUED:
        job.cancel()  # never started: drop it from the queue
        release(connection, job.id)
    else:
        connection.set(CANCEL.format(job_id=holder["job_id"]), 1, ex=24 * 3600)
    return holder


def cancel_requested(connection: redis.Redis, job_id: str) -> bool:
    """True once someone asked this training to stop."""
    return bool(connection.exists(CANCEL.format(job_id=job_id)))


def release(connection: redis.Redis, job_id: str) -> None:
    """Free the lock if this job holds it (the job calls this when it ends, however it ends)."""
    raw = connection.get(LOCK)
    if raw is not None and json.loads(raw).get("job_id") == job_id:
        _delete_lock_if(connection, raw)
    connection.delete(CANCEL.format(job_id=job_id))


def save_chart(connection: redis.Redis, job_id: str, png: bytes) -> None:
    """Keep a finished training's chart under its own key, as long as the job's result."""
    connection.set(CHART.format(job_id=job_id), png, ex=TRAIN_RESULT_TTL_S)


def chart(connection: redis.Redis, job_id: str) -> bytes | None:
    """The chart of a finished training, or None (none was made, or it expired)."""
    return connection.get(CHART.format(job_id=job_id))
