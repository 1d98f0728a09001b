"""Heartbeats and the reaper: jobs of a worker that died (SIGKILL, OOM) are re-run or failed in seconds.

RQ alone leaves a killed worker's job "started" until its timeout runs out (minutes). Each
sentibot worker refreshes a short-lived ``alive`` key every second; any live worker that finds a
started job whose worker stopped beating hands it to RQ's own abandoned-job handling at once:
score and file jobs (enqueued with one retry) go back on their queue, a training is marked failed.
Reviews a dead worker had claimed for a batch are pushed back to the front of the queue. Each
give-back counts a crash against the job; at three it is failed instead (worker/poison.py).
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from worker import poison
from worker.queues import DIED_META, QUEUES, SCORE, get_queue
from worker.rq_internals import expire_now, started_entries

log = logging.getLogger(__name__)

ALIVE = "sentibot:alive:{name}"
BEATING = "sentibot:workers"  # names of workers that send heartbeats (others are never reaped)
INFLIGHT = "sentibot:inflight:{name}"  # reviews claimed by a worker for its current batch
HEARTBEAT_S = 1.0
ALIVE_TTL_S = 6  # a worker silent this long is dead (C code holding the GIL can delay a beat)


def beat(connection: redis.Redis, name: str) -> None:
    """Say this worker is alive for the next few seconds."""
    with connection.pipeline() as pipe:
        pipe.sadd(BEATING, name)
        pipe.set(ALIVE.format(name=name), 1, ex=ALIVE_TTL_S)
        pipe.execute()


# Atomic, so two reapers can never requeue one batch twice: the list is read, each job's crash count
# raised, the jobs under MAX_CRASHES pushed back to the front of the score queue in order, the list
# deleted and the worker forgotten, in one step. Returns {all ids, ids that reached MAX_CRASHES}.
_GIVE_BACK = """
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local poisoned = {}
for i = #ids, 1, -1 do
  local crashes = redis.call('INCR', ARGV[2] .. ids[i])
  redis.call('EXPIRE', ARGV[2] .. ids[i], ARGV[4])
  if crashes >= tonumber(ARGV[3]) then
    table.insert(poisoned, ids[i])
  else
    redis.call('LPUSH', KEYS[2], ids[i])
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return {ids, poisoned}
"""


def dead_workers(connection: redis.Redis) -> list[str]:
    """Workers in the workers set whose heartbeat stopped (one SMEMBERS and one MGET)."""
    names = sorted(n.decode() for n in connection.smembers(BEATING))
    if not names:
        return []
    alive = connection.mget([ALIVE.format(name=n) for n in names])
    return [name for name, beat_ in zip(names, alive, strict=True) if beat_ is None]


def reap(connection: redis.Redis) -> list[str]:
    """Re-run or fail the jobs of dead workers, give back their claimed reviews, forget them; return the ids."""
    dead = set(dead_workers(connection))
    if not dead:
        return []
    from worker.dispatch import SentibotJob  # here: the bot imports this module, and dispatch brings the jobs

    reaped: list[str] = []
    for name in QUEUES:
        registry = get_queue(connection, name, SentibotJob).started_job_registry  # RQ's clean-up reads jobs so
        expired = []
        for job_id, execution_id in started_entries(registry):
            try:
                job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
            except NoSuchJobError:
                continue
            if job.worker_name in dead:
                reaped.append(job_id)
                job.meta[DIED_META] = f"worker {job.worker_name} stopped while running it"
                job.save_meta()
                crashes = poison.count_crash(connection, job_id)
                if crashes >= poison.MAX_CRASHES:
                    connection.zrem(registry.key, f"{job_id}:{execution_id}")  # private: the member format
                    poison.fail_poisoned(connection, job_id, crashes)
                else:
                    expired.append((job_id, execution_id))
        if expired:
            expire_now(connection, registry, expired)  # RQ's own handling: retried if it may be, else failed
    give_back = connection.register_script(_GIVE_BACK)
    score_key = get_queue(connection, SCORE).key
    for name in sorted(dead):
        ids, poisoned = give_back(
            keys=[INFLIGHT.format(name=name), score_key, BEATING],
            args=[name, poison.CRASHES, poison.MAX_CRASHES, poison.CRASHES_TTL_S],
        )
        reaped.extend(i.decode() for i in ids)
        for job_id in poisoned:
            poison.fail_poisoned(connection, job_id.decode(), poison.MAX_CRASHES)
    if reaped:
        log.warning("re-queued or failed %d job(s) of dead workers %s", len(reaped), ", ".join(sorted(dead)))
    return reaped


STUCK = "sentibot:stuck:{job_id}"  # when a job id was first seen in a queue's intermediate list, unstarted
STUCK_S = 10  # a job dequeued but not started this long was dequeued by a work loop that died


def rescue_dequeued(connection: redis.Redis, now: float | None = None) -> list[str]:
    """Give back jobs a work loop took off a queue but never started (Redis failed in between).

    RQ moves a job into the queue's intermediate list when it dequeues it and takes it out when it
    starts it; a loop that dies between the two leaves it there, and RQ itself only fails it at its
    ten-minute maintenance. A live worker holds a job there for microseconds, so one seen there,
    unstarted, for STUCK_S is put back at the front of its queue (the LREM decides who does it).
    """
    now = time.time() if now is None else now
    rescued = []
    for name in QUEUES:
        queue = get_queue(connection, name)
        waiting = [raw.decode() for raw in connection.lrange(queue.intermediate_queue_key, 0, -1)]
        if not waiting:
            continue
        started = {job_id for job_id, _ in started_entries(queue.started_job_registry)}
        for job_id in waiting:
            if job_id in started:
                continue
            connection.set(STUCK.format(job_id=job_id), now, nx=True, ex=10 * STUCK_S)
            first_seen = float(connection.get(STUCK.format(job_id=job_id)) or now)
            if now - first_seen >= STUCK_S and connection.lrem(queue.intermediate_queue_key, 1, job_id):
                connection.lpush(queue.key, job_id)
                connection.delete(STUCK.format(job_id=job_id))
                rescued.append(job_id)
    if rescued:
        log.warning("gave back %d job(s) dequeued by a work loop that died before starting them", len(rescued))
    return rescued


class Heartbeat(threading.Thread):
    """Background thread: beat every second and reap dead workers' jobs."""

    def __init__(self, connection: redis.Redis, name: str) -> None:
        super().__init__(name="sentibot-heartbeat", daemon=True)
        self.connection = connection
        self.worker_name = name
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:  # beat at once, then every HEARTBEAT_S
            try:
                beat(self.connection, self.worker_name)
                reap(self.connection)
                rescue_dequeued(self.connection)
            except redis.exceptions.RedisError as exc:  # Redis away: keep trying, the worker does too
                log.debug("heartbeat failed: %s", exc)
            except Exception:  # a bug here must not silence the heartbeat (the worker would look dead)
                log.exception("heartbeat round failed")
            if self.stopped.wait(HEARTBEAT_S):
                return

    def stop(self, withdraw: bool = True) -> None:
        """End the thread; ``withdraw`` the alive key too on a clean exit (not a death). A work loop that
        crashed is not withdrawn: its key expires and the reaper gives back what it had claimed."""
        self.stopped.set()
        if not withdraw:
            return
        try:
            self.connection.delete(ALIVE.format(name=self.worker_name))
            self.connection.srem(BEATING, self.worker_name)
        except redis.exceptions.RedisError:
            pass


def alive_workers(connection: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat is current."""
    names = sorted(n.decode() for n in connection.smembers(BEATING))
    return [
        n
        for n, alive in zip(names, connection.mget([ALIVE.format(name=n) for n in names]) if names else [], strict=True)
        if alive
    ]
