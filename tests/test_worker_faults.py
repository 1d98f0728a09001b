"""Workers under attack and under fault: only sentibot's jobs run, SIGTERM is clean in every state,
an error mid-batch loses no review, and the reaper gives a dead worker's reviews back exactly once."""

from __future__ import annotations

import signal
import time

import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from model.predict import Predictor
from model.recipes import plan
from tests.processes import RedisServer, run_burst, start_worker, stop_process, wait_for, wait_worker_ready
from worker import rq_internals, training
from worker.client import failure_reason, submit_review, wait_result
from worker.connection import connect
from worker.model_cache import ModelCache
from worker.queues import QUEUES, SCORE, get_queue
from worker.reaper import ALIVE, BEATING, INFLIGHT, reap
from worker.registry import ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.timed]  # every test here starts processes


# --- only our own code ----------------------------------------------------------------------------


def test_a_job_naming_any_other_function_is_refused_without_running_it(
    connection, worker_settings, live_model, tmp_path
):
    """`os.system` enqueued on every queue: the file is never made, the jobs fail, the worker keeps scoring."""
    target = tmp_path / "pwned"
    log = tmp_path / "worker.log"
    process = start_worker(worker_settings, "score,files,train", "guard", log)
    try:
        wait_worker_ready(connection, "guard")
        attacks = [get_queue(connection, name).enqueue("os.system", args=[f"touch {target}"]) for name in QUEUES]
        for job in attacks:
            wait_for(lambda job=job: job.get_status(refresh=True) == JobStatus.FAILED, 15)
            assert job.get_meta(refresh=True)["failure"]["kind"] == "ForbiddenJob"
            assert "not a sentibot job" in failure_reason(job.get_meta())
        assert not target.exists()
        assert wait_result(submit_review(connection, "a superb brilliant film"), 10)["label"] == "positive"
        assert "'os.system' is not a sentibot job" in log.read_text()
    finally:
        stop_process(process)
    assert not target.exists()


def seconds_to_exit_after_sigterm(process, limit: float = 30) -> float:
    """Send SIGTERM and time the exit (a process still running after ``limit`` fails the test)."""
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    process.wait(timeout=limit)
    return time.monotonic() - started


# --- stopping ---------------------------------------------------------------------------------------


def test_sigterm_stops_an_idle_scoring_worker_at_once(connection, worker_settings, live_model):
    """Idle, Redis up: exits within 5 s and leaves no heartbeat behind."""
    process = start_worker(worker_settings, "score", "idle")
    try:
        wait_worker_ready(connection, "idle")
        assert seconds_to_exit_after_sigterm(process) < 5
    finally:
        stop_process(process)
    assert not connection.exists(ALIVE.format(name="idle"))


def test_sigterm_stops_a_scoring_worker_while_redis_is_down(worker_settings, live_model, redis_server, tmp_path):
    """Redis gone, the worker retrying: one SIGTERM ends it within 5 s (no second signal needed)."""
    server = RedisServer().start()
    own = connect(server.url)
    ModelRegistry(own).add(ModelRegistry(connect(redis_server.url)).bundle_bytes(live_model["version"]), promote=True)
    settings = type(worker_settings)(**{**worker_settings.__dict__, "redis_url": server.url})
    log = tmp_path / "outage.log"
    process = start_worker(settings, "score", "outage", log)
    try:
        wait_worker_ready(own, "outage")
        server.stop()
        wait_for(lambda: "retrying" in log.read_text(), 20)
        assert seconds_to_exit_after_sigterm(process) < 5
    finally:
        stop_process(process)
        server.stop()


def test_sigterm_under_load_loses_no_review(connection, worker_settings, live_model):
    """SIGTERM while 3,000 reviews wait: the worker exits within 5 s; every review is then done or
    still queued, none stranded in an in-flight list, and a new worker finishes them all."""
    process = start_worker(worker_settings, "score", "busy")
    try:
        wait_worker_ready(connection, "busy")
        queue = get_queue(connection, SCORE)
        jobs = [submit_review(connection, f"a superb film {i}") for i in range(3000)]
        wait_for(lambda: queue.finished_job_registry.count > 100, 20, interval=0.005)
        assert seconds_to_exit_after_sigterm(process) < 5
    finally:
        stop_process(process)
    assert not connection.exists(INFLIGHT.format(name="busy"))
    statuses = [job.get_status(refresh=True) for job in jobs]
    assert all(s in (JobStatus.FINISHED, JobStatus.QUEUED) for s in statuses)
    assert statuses.count(JobStatus.QUEUED) == queue.count
    successor = start_worker(worker_settings, "score", "successor")
    try:
        assert all(wait_result(job, 30)["label"] == "positive" for job in jobs)
    finally:
        stop_process(successor)


def test_sigterm_interrupts_a_training_and_reports_it(connection, worker_settings):
    """A training worker told to stop ends the training at the next batch, says so, frees the lock."""
    process = start_worker(worker_settings, "train", "stopped-trainer")
    try:
        wait_worker_ready(connection, "stopped-trainer")
        job_id = training.start(connection, plan("tutorial", 50, 8), "alice", 3600)
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        wait_for(lambda: job.get_meta(refresh=True).get("stage") == "training", 60)
        assert seconds_to_exit_after_sigterm(process) < 10
        result = job.latest_result().return_value
        assert result["status"] == "cancelled" and "interrupted by shutdown" in result["reason"]
        assert training.running(connection) is None
    finally:
        stop_process(process)


# --- no review lost ---------------------------------------------------------------------------------


class FailsOnce(Predictor):
    """A real predictor that raises on its first batch of several reviews (an injected fault)."""

    failed = False

    def predict(self, texts):
        if len(texts) > 1 and not FailsOnce.failed:
            FailsOnce.failed = True
            raise RuntimeError("injected fault")
        return super().predict(texts)


class FaultyModels(ModelCache):
    def get_predictor(self, connection):
        predictor = super().get_predictor(connection)
        predictor.__class__ = FailsOnce
        return predictor


def test_an_unexpected_error_mid_batch_loses_no_review(connection, worker_settings, live_model, caplog):
    """A model that raises on one batch: the error is logged, the claimed reviews are scored afterwards."""
    FailsOnce.failed = False
    jobs = [submit_review(connection, f"loved it, superb {i}") for i in range(60)]
    with caplog.at_level("ERROR", logger="worker.scoring"):
        run_burst(connection, worker_settings, models=FaultyModels())
    assert FailsOnce.failed and "injected fault" in caplog.text
    assert all(wait_result(job, 2)["label"] == "positive" for job in jobs)
    assert connection.keys("sentibot:inflight:*") == []


def test_the_reaper_gives_a_batch_back_once_and_forgets_the_worker(connection, worker_settings, live_model):
    """Two reapers at once: the dead worker's claimed reviews are queued exactly once, and it leaves the set."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [submit_review(connection, f"loved it {i}") for i in range(50)]
    queue = get_queue(connection, SCORE)
    for _ in jobs:
        connection.lmove(queue.key, INFLIGHT.format(name="ghost"), "LEFT", "RIGHT")
    connection.sadd(BEATING, "ghost", "alive-one")
    connection.set(ALIVE.format(name="alive-one"), 1, ex=10)
    reapers = [connect(worker_settings.redis_url) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(reap, reapers))
    assert sorted(results[0] + results[1]) == sorted(j.id for j in jobs)
    assert queue.job_ids == [j.id for j in jobs]  # once each, in order
    assert connection.smembers(BEATING) == {b"alive-one"}
    run_burst(connection, worker_settings)
    assert all(wait_result(j, 2)["label"] == "positive" for j in jobs)


def test_rq_private_names_we_rely_on_still_exist():
    """If an RQ upgrade renames what batching and reaping use, this says what broke."""
    assert rq_internals.check() == []


def test_a_worker_that_died_mid_job_is_found_without_scanning_the_keyspace(connection, worker_settings):
    """The reaper reads the workers set and their heartbeats, not every key: a key count does not matter."""
    connection.mset({f"noise:{i}": 1 for i in range(5000)})
    connection.sadd(BEATING, "gone")
    calls = []
    original = connection.execute_command

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    connection.execute_command = counting
    try:
        reap(connection)
    finally:
        connection.execute_command = original
    assert "SCAN" not in calls and "KEYS" not in calls
    assert not connection.sismember(BEATING, "gone")


# --- privacy ----------------------------------------------------------------------------------------


def test_review_texts_never_reach_the_logs_at_info(connection, worker_settings, live_model, tmp_path):
    """RQ logs every job's description at INFO: it names the job and the text's length, never the text."""
    log = tmp_path / "chatty.log"
    process = start_worker(worker_settings, "score", "chatty", log, LOG_LEVEL="INFO")
    try:
        wait_worker_ready(connection, "chatty")
        secret = "my neighbour Zebediah hated this superb film"
        wait_result(submit_review(connection, secret), 10)
        wait_for(lambda: "score a review (" in log.read_text(), 10)  # RQ has logged the job
    finally:
        stop_process(process)
    text = log.read_text()
    assert "INFO" in text and "Zebediah" not in text


def test_a_sigterm_before_rq_installs_its_handlers_still_stops_the_worker(worker_settings, tmp_path):
    """The heartbeat makes a worker look ready a moment before RQ's work loop installs its signal
    handlers; a SIGTERM in that moment must still end the loop (it used to block in BLPOP for good)."""
    import subprocess
    import sys

    script = (
        "import threading, time\n"
        "from common.settings import Settings\n"
        "from worker.connection import connect\n"
        "from worker.run import build_worker\n"
        f"settings = Settings(redis_url={worker_settings.redis_url!r})\n"
        "stopping = threading.Event(); stopping.set()  # what the early SIGTERM did\n"
        "worker = build_worker(connect(settings.redis_url), ['score'], settings, stopping=stopping)\n"
        "worker.work(logging_level='WARNING')\n"
        "print('stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "stopped", done.stderr[-2000:]
