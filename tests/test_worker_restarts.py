"""Workers survive what kills them in production (issue 21.9 and 9b): a restart under the same name after a
SIGKILL, and Redis going away while jobs finish. Names are unique per start, and a dead name's jobs come back."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from tests.processes import RedisServer, run_burst, start_worker, stop_process, wait_for, wait_worker_ready
from worker import health
from worker.client import submit_explain, submit_review, wait_result
from worker.connection import connect
from worker.queues import SCORE, get_queue
from worker.reaper import INFLIGHT, STUCK_S, alive_workers, rescue_dequeued
from worker.registry import ModelRegistry

pytestmark = pytest.mark.slow  # starts worker and Redis processes


def test_default_names_are_unique_per_start():
    """Two starts in one process (same host, same PID) never share a name; the host prefix stays."""
    first, second = health.worker_name(), health.worker_name()
    assert first != second and first.startswith(f"{health.HOST}.{os.getpid()}.")
    assert health.worker_name("given").startswith("given.")


def test_a_worker_restarted_under_its_killed_name_serves_at_once_and_the_dead_ones_batch_comes_back(
    connection, worker_settings, live_model, tmp_path
):
    """`--name pid1`, SIGKILLed while holding a claimed batch, started again as `pid1` (a container's PID 1):
    it works under a fresh name at once, and the batch the dead one held is scored."""
    first = start_worker(worker_settings, "score", "pid1")
    try:
        wait_worker_ready(connection, "pid1")
        wait_for(lambda: connection.exists("rq:worker:pid1"), 30)  # RQ has registered it: the name is taken
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    jobs = [submit_review(connection, f"a superb brilliant film {i}") for i in range(20)]
    queue = get_queue(connection, SCORE)
    for _ in jobs:  # what the dead worker had claimed for its batch
        connection.lmove(queue.key, INFLIGHT.format(name="pid1"), "LEFT", "RIGHT")
    log = tmp_path / "restarted.log"
    again = start_worker(worker_settings, "score", "pid1", log)
    try:
        wait_for(lambda: any(n.startswith("pid1.") for n in alive_workers(connection)), 90)  # TensorFlow loaded
        assert all(wait_result(job, 30)["label"] == "positive" for job in jobs)
        wait_for(lambda: len(alive_workers(connection)) == 1, 15)
        [name] = alive_workers(connection)
        assert name.startswith("pid1.") and again.poll() is None
    finally:
        stop_process(again)
    assert "still registered" in log.read_text()


REVIEW = "a superb and touching film with brilliant acting, a wonderful plot and a great cast " * 3


def all_finished(connection, jobs) -> bool:
    """Whether every one of these jobs has its result."""
    fetched = Job.fetch_many([j.id for j in jobs], connection=connection, serializer=JSONSerializer)
    return all(j is not None and j.get_status() == JobStatus.FINISHED for j in fetched)


def unfinished(connection, jobs) -> list[tuple]:
    """(id, status, meta) of the jobs without a result: what a failing run shows."""
    fetched = Job.fetch_many([j.id for j in jobs], connection=connection, serializer=JSONSerializer)
    return [
        (job.id, None if f is None else f.get_status(), None if f is None else f.meta)
        for job, f in zip(jobs, fetched, strict=True)
        if f is None or f.get_status() != JobStatus.FINISHED
    ][:10]


def finished_by(connection, jobs) -> set[str]:
    """The worker names that finished these jobs (every job must have finished)."""
    assert all_finished(connection, jobs)
    fetched = Job.fetch_many([j.id for j in jobs], connection=connection, serializer=JSONSerializer)
    return {j.worker_name for j in fetched}


def test_redis_stopped_while_jobs_finish_leaves_every_worker_serving(
    worker_settings, live_model, redis_server, tmp_path
):
    """Two workers explaining 300 reviews; Redis stopped mid-way and started again from its append-only file,
    twice: every review is answered, both processes live on under fresh names, and both score."""
    data = ModelRegistry(connect(redis_server.url)).bundle_bytes(live_model["version"])
    server = RedisServer(data_dir=tmp_path / "redis").start()
    port = server.port
    own = connect(server.url)
    ModelRegistry(own).add(data, promote=True)
    settings = dataclasses.replace(worker_settings, redis_url=server.url)
    workers = {f"outage{i}": start_worker(settings, "score", f"outage{i}", tmp_path / f"outage{i}.log") for i in (1, 2)}
    try:
        for name in workers:
            wait_worker_ready(own, name)
        queue = get_queue(own, SCORE)
        for round_ in range(2):
            # Why? jobs run one by one through RQ's own code (score jobs are batched), so the outage lands
            # where RQ records a job: the path that used to end a worker for good.
            jobs = [submit_explain(own, f"{REVIEW} {round_}.{i}") for i in range(300)]
            wait_for(lambda: queue.count < 260, 60, interval=0.002)
            server.stop()
            time.sleep(2)
            server = RedisServer(data_dir=tmp_path / "redis", port=port).start()
            try:
                wait_for(lambda jobs=jobs: all_finished(own, jobs), 90, interval=0.5)
            except TimeoutError:
                raise AssertionError(f"round {round_}: {unfinished(own, jobs)}") from None
            assert all(p.poll() is None for p in workers.values()), "a worker process ended"
        wait_for(lambda: len(alive_workers(own)) == 2, 20)
        alive = alive_workers(own)
        assert sorted(n.split(".")[0] for n in alive) == sorted(workers)
        crashed = [n for n in alive if n not in workers]
        assert crashed, "no work loop was interrupted: the outage missed every job"
        jobs = [submit_review(own, f"after the outages, superb {i}") for i in range(3000)]
        wait_for(lambda: all_finished(own, jobs), 60, interval=0.5)
        assert finished_by(own, jobs) == set(alive)  # both serve
    finally:
        for process in workers.values():
            stop_process(process)
        server.stop()


def test_a_job_dequeued_by_a_loop_that_died_before_starting_it_is_given_back(connection, worker_settings, live_model):
    """Redis failed between RQ's dequeue (the job moved to the intermediate list) and its start: after
    STUCK_S unstarted there the reaper puts it back at the front of the queue, and it is scored."""
    job = submit_review(connection, "a superb brilliant film")
    queue = get_queue(connection, SCORE)
    connection.lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")  # what the dead loop's BLMOVE did
    assert rescue_dequeued(connection, now=1000.0) == []  # first seen: a live worker may be starting it
    assert rescue_dequeued(connection, now=1000.0 + STUCK_S) == [job.id]
    assert queue.job_ids == [job.id] and connection.llen(queue.intermediate_queue_key) == 0
    run_burst(connection, worker_settings)
    assert wait_result(job, 5)["label"] == "positive"
