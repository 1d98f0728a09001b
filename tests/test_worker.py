"""Queue and worker: scoring with micro-batching, the registry and hot swap, training jobs, faults."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time

import pytest
import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from model.recipes import plan
from tests.factories import second_version
from tests.processes import run_burst, start_worker, stop_process, wait_for, wait_worker_ready
from worker import client, training
from worker.client import failure_reason, submit_review, wait_result
from worker.errors import JobFailed, NotFound, QueueUnavailable, ScoringTimeout, TrainingBusy
from worker.jobs import quality_gate
from worker.model_cache import ModelCache
from worker.queues import SCORE, SCORE_JOB, TRAIN, get_queue
from worker.reaper import BEATING, INFLIGHT, reap
from worker.registry import ModelRegistry

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes


# --- scoring ----------------------------------------------------------------------------------


def test_a_review_is_scored_by_a_worker(connection, worker_settings, live_model):
    """Enqueue by dotted path, a worker scores it, the result names the model version."""
    job = submit_review(connection, "a wonderful brilliant film, loved it", owner="a" * 32)
    assert job.func_name == "worker.jobs.score_review"
    run_burst(connection, worker_settings)
    result = wait_result(job, timeout_s=2)
    assert result["label"] == "positive" and result["score"] > 0.5
    assert result["model"] == live_model["version"]
    assert {"words", "known", "truncated", "ms", "batch"} <= set(result)


def test_waiting_reviews_are_scored_together(connection, worker_settings, live_model, predictor):
    """Many queued reviews are scored in batches, each result identical to scoring it alone."""
    texts = [f"{'superb touching' if i % 2 else 'awful dull mess'} film number {i}" for i in range(120)]
    jobs = [submit_review(connection, text) for text in texts]
    run_burst(connection, worker_settings)
    results = [wait_result(job, timeout_s=2) for job in jobs]
    assert max(r["batch"] for r in results) > 50
    alone = predictor.predict(texts)
    assert [r["label"] for r in results] == [p.label for p in alone]
    assert [r["score"] for r in results] == pytest.approx([p.score for p in alone], abs=1e-5)
    assert all(j.get_status(refresh=True) == JobStatus.FINISHED for j in jobs)


def test_a_claim_moves_waiting_reviews_to_the_in_flight_list_in_order_at_most_a_batch(connection, worker_settings):
    """One claim takes the queue's first MAX_BATCH ids into the worker's in-flight list (what the reaper
    gives back if the worker dies), in order; the rest stay queued, in order; an empty queue claims none."""
    from worker.run import build_worker
    from worker.scoring import MAX_BATCH

    worker = build_worker(connection, [SCORE], worker_settings, name="claimer")
    queue = get_queue(connection, SCORE)
    ids = [f"job-{i}" for i in range(MAX_BATCH + 44)]
    connection.rpush(queue.key, *ids)
    assert worker._claim(queue) == ids[:MAX_BATCH]
    assert [i.decode() for i in connection.lrange(INFLIGHT.format(name="claimer"), 0, -1)] == ids[:MAX_BATCH]
    assert [i.decode() for i in connection.lrange(queue.key, 0, -1)] == ids[MAX_BATCH:]
    connection.delete(queue.key, INFLIGHT.format(name="claimer"))
    assert worker._claim(queue) == []
    assert not connection.exists(INFLIGHT.format(name="claimer"))


def test_explain_job_names_the_words_behind_the_verdict(connection, worker_settings, live_model, predictor):
    """`explain` queues a job on the score queue; a worker answers with the live model's word effects."""
    from concurrent.futures import ThreadPoolExecutor

    from model.explain import explain as explain_locally
    from worker.client import explain

    text = "the plot was superb but the ending was dull"
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(explain, connection, text, 10)
        wait_for(lambda: connection.llen("rq:queue:score"), 5)
        run_burst(connection, worker_settings)
        result = answer.result()
    assert result["model"] == live_model["version"] and result["label"] in ("positive", "negative")
    assert result["words"] == [e.to_dict() for e in explain_locally(predictor, text)]


def test_no_model_yet_fails_with_a_clear_sentence(connection, worker_settings):
    """Before any model is live, scoring fails with a sentence the bot can show."""
    job = submit_review(connection, "fine")
    run_burst(connection, worker_settings)
    with pytest.raises(JobFailed, match="No model is live yet"):
        wait_result(job, timeout_s=2)


def test_explaining_without_a_live_model_is_a_sentence(connection, worker_settings):
    """A Why? tap before any model is live fails with the same sentence as scoring, not a traceback."""
    from concurrent.futures import ThreadPoolExecutor

    from worker.client import explain

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(explain, connection, "fine", 5)
        wait_for(lambda: connection.llen("rq:queue:score"), 5)
        run_burst(connection, worker_settings)
        with pytest.raises(JobFailed, match="No model is live yet"):
            answer.result()


@pytest.mark.timed
def test_no_worker_means_a_timeout_not_silence(connection, live_model):
    """Nobody consuming the queue: the wait ends with ScoringTimeout."""
    job = submit_review(connection, "anyone there?")
    started = time.monotonic()
    with pytest.raises(ScoringTimeout, match="Could not get a verdict within"):
        wait_result(job, timeout_s=1)
    assert time.monotonic() - started < 3


def test_redis_down_is_one_clear_error():
    """Enqueueing against a Redis that is not there raises QueueUnavailable."""
    from tests.processes import free_port
    from worker.connection import connect

    with pytest.raises(QueueUnavailable, match="not reachable"):
        submit_review(connect(f"redis://127.0.0.1:{free_port()}/0"), "hello")


def test_queues_use_json_not_pickle(connection, live_model):
    """Job payloads in Redis are JSON: a worker never unpickles what someone wrote there."""
    job = submit_review(connection, "plain json please")
    raw = connection.hget(f"rq:job:{job.id}", "data")
    import zlib

    payload = json.loads(zlib.decompress(raw))
    assert payload[0] == "worker.jobs.score_review"
    assert payload[3]["text"] == "plain json please"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"failure": {"kind": "ModelUnavailable", "message": "No model is live yet."}}, "No model is live yet"),
        ({"failure": {"kind": "ValueError", "message": None}}, "It failed with ValueError"),
        ({"died": "worker w1 stopped while running it"}, "stopped unexpectedly"),
        ({}, "worker's log has the details"),
        (None, "worker's log has the details"),
    ],
)
def test_failures_become_sentences(meta, expected):
    """Our own errors are shown verbatim; anything else by its kind, never as a traceback."""
    reason = failure_reason(meta)
    assert expected in reason and "Traceback" not in reason


def test_a_failing_job_records_its_reason_for_the_client(connection, worker_settings, live_model):
    """The worker writes why a job failed into job.meta; the client's sentence comes from there."""
    job = get_queue(connection, SCORE).enqueue(SCORE_JOB, kwargs={"text": 42})  # not a string: a TypeError
    run_burst(connection, worker_settings)
    with pytest.raises(JobFailed, match="It failed with TypeError"):
        wait_result(job, 2)
    assert job.get_meta(refresh=True)["failure"] == {"kind": "TypeError", "message": None}


# --- registry and hot swap --------------------------------------------------------------------


def test_registry_lists_promotes_and_rolls_back(connection, bundle_path, tmp_path):
    """Versions are listed newest first with the live one marked; rollback restores the previous."""
    registry = ModelRegistry(connection)
    first = registry.add(bundle_path.read_bytes(), promote=True)
    second = registry.add(second_version(bundle_path))
    assert [r["version"] for r in registry.versions()] == [second["version"], first["version"]]
    assert registry.versions()[1]["live"]
    registry.promote(second["version"])
    assert registry.current() == second["version"]
    assert registry.rollback() == first["version"]
    with pytest.raises(NotFound, match="roll back"):
        registry.rollback()
    with pytest.raises(NotFound, match="model list"):
        registry.promote("nope")


def test_registry_keeps_the_bytes_of_recent_live_and_rollback_versions_only(connection, bundle_path, tmp_path):
    """Bundles are megabytes: live and the rollback target always keep their bytes, then earlier rollback
    targets and the newest versions, KEEP_BUNDLES of them."""
    from worker.registry import KEEP_BUNDLES

    registry = ModelRegistry(connection)
    oldest = registry.add(bundle_path.read_bytes(), promote=True)["version"]
    rollback_target = registry.add(second_version(bundle_path), promote=True)["version"]
    live = registry.add(second_version(bundle_path), promote=True)["version"]
    middle = [registry.add(second_version(bundle_path))["version"] for _ in range(KEEP_BUNDLES + 1)]
    records = {r["version"]: r for r in registry.versions()}
    assert len(records) == KEEP_BUNDLES + 4  # every record stays listed
    assert records[middle[1]].get("pruned") and not records[middle[2]].get("pruned")
    for kept in (oldest, rollback_target, live):  # live, and both rollback targets
        assert not records[kept].get("pruned") and registry.bundle_bytes(kept)
    with pytest.raises(NotFound, match="pruned"):
        registry.bundle_bytes(middle[0])
    with pytest.raises(NotFound, match="pruned"):
        registry.promote(middle[0])
    assert registry.rollback() == rollback_target and registry.rollback() == oldest


def test_registry_memory_stays_within_its_byte_budget(connection, bundle_path, tmp_path):
    """Big bundles: past the budget only the live one and the rollback target keep their bytes, and a
    rollback skips targets whose bytes went."""
    registry = ModelRegistry(connection)
    versions = [registry.add(second_version(bundle_path), promote=True)["version"] for _ in range(5)]
    size = registry.meta(versions[0])["bytes"]
    registry.prune(budget=int(3.5 * size))
    kept = [v for v in versions if not registry.meta(v).get("pruned")]
    assert kept == versions[-3:]  # live, rollback target, and one more: 3 bundles within 3.5
    registry.prune(budget=size)
    assert [v for v in versions if not registry.meta(v).get("pruned")] == versions[-2:]
    assert registry.rollback() == versions[-2]
    with pytest.raises(NotFound, match="bundle still kept"):
        registry.rollback()


def test_registry_refuses_a_damaged_bundle(connection, bundle_path):
    """A truncated bundle is not stored at all."""
    from model.errors import BundleCorrupt

    with pytest.raises(BundleCorrupt):
        ModelRegistry(connection).add(bundle_path.read_bytes()[:5000])
    assert ModelRegistry(connection).versions() == []


def test_promoting_swaps_the_model_for_the_next_job(connection, worker_settings, live_model, bundle_path, tmp_path):
    """A running worker serves the newly promoted version on its next job, without a restart."""
    models = ModelCache()  # one worker's cache across both bursts
    registry = ModelRegistry(connection)
    first = submit_review(connection, "superb")
    run_burst(connection, worker_settings, models=models)
    assert wait_result(first, 2)["model"] == live_model["version"]
    new = registry.add(second_version(bundle_path), promote=True)
    second = submit_review(connection, "superb")
    run_burst(connection, worker_settings, models=models)
    assert wait_result(second, 2)["model"] == new["version"]


def test_a_corrupt_live_bundle_is_refused_and_the_old_model_keeps_serving(
    connection, worker_settings, live_model, bundle_path, tmp_path
):
    """The damage shows in the job result and in the registry listing."""
    models = ModelCache()  # one worker's cache across both bursts
    registry = ModelRegistry(connection)
    job = submit_review(connection, "warm the cache")
    run_burst(connection, worker_settings, models=models)
    wait_result(job, 2)
    bad = registry.add(second_version(bundle_path))
    connection.set(f"sentibot:model:bundle:{bad['version']}", b"garbage")
    registry.promote(bad["version"])
    job = submit_review(connection, "still served?")
    run_burst(connection, worker_settings, models=models)
    result = wait_result(job, 2)
    assert result["model"] == live_model["version"]
    assert bad["version"] in result["warning"]
    listed = {r["version"]: r for r in registry.versions()}
    assert "checksum" in listed[bad["version"]]["error"]


@pytest.mark.timed
def test_hot_swap_in_a_running_worker_process(connection, worker_settings, live_model, bundle_path, tmp_path):
    """A real worker process picks up a promotion within a second."""
    process = start_worker(worker_settings, "score", "swap-worker")
    try:
        wait_worker_ready(connection, "swap-worker")
        assert wait_result(submit_review(connection, "great"), 5)["model"] == live_model["version"]
        new = ModelRegistry(connection).add(second_version(bundle_path), promote=True)
        promoted_at = time.monotonic()
        assert wait_result(submit_review(connection, "great"), 5)["model"] == new["version"]
        assert time.monotonic() - promoted_at < 1.0 + 0.5  # first job after promotion, including its load
    finally:
        stop_process(process)


# --- training ---------------------------------------------------------------------------------


def test_quality_gate():
    """Live only above the threshold and not more than the allowed drop below the live model."""
    assert quality_gate(0.85, None, 0.80, 0.01)[0]
    assert not quality_gate(0.79, None, 0.80, 0.01)[0]
    assert quality_gate(0.855, {"test_accuracy": 0.86}, 0.80, 0.01)[0]
    promote, reason = quality_gate(0.84, {"test_accuracy": 0.86}, 0.80, 0.01)
    assert not promote and "below the live model" in reason
    live = {"test_accuracy": 0.86, "short_dev_accuracy": 0.80}
    promote, reason = quality_gate(0.87, live, 0.80, 0.01, short_dev=0.75)
    assert not promote and "one-sentence reviews 75.00%" in reason  # better on IMDB, worse on chat text
    assert quality_gate(0.87, live, 0.80, 0.01, short_dev=0.795)[0]
    assert quality_gate(0.87, {"test_accuracy": 0.86}, 0.80, 0.01, short_dev=0.5)[0]  # live has no figure


def test_the_gate_says_when_a_difference_is_inside_the_noise():
    """Two accuracies a point apart on 2,000 test reviews each cannot be told apart: the reason says so;
    on 25,000 each they can, and it does not."""
    live = {"test_accuracy": 0.88, "test_reviews": 2000}
    promote, reason = quality_gate(0.89, live, 0.80, 0.01, test_reviews=2000)
    assert promote and "inside the noise of 2,000 and 2,000 test reviews" in reason
    promote, reason = quality_gate(0.89, {**live, "test_reviews": 25000}, 0.80, 0.01, test_reviews=25000)
    assert promote and "noise" not in reason
    promote, reason = quality_gate(0.86, live, 0.80, 0.01, test_reviews=2000)
    assert not promote and "inside the noise" in reason  # refused by the drop rule, yet not clearly worse
    assert "noise" not in quality_gate(0.89, {"test_accuracy": 0.88}, 0.80, 0.01, test_reviews=2000)[1]


def test_training_job_reports_epochs_and_promotes(connection, worker_settings):
    """A training job publishes each epoch, stores the bundle, returns the chart, goes live."""
    job_id = training.start(connection, plan("tutorial", 2, 32), "admin", 3600)
    run_burst(connection, worker_settings, queues=[TRAIN])
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    result = job.latest_result().return_value
    assert result["status"] == "promoted", result.get("reason")
    meta = job.get_meta()
    assert [e["epoch"] for e in meta["epochs"]] == [1, 2]
    # after the last epoch: where it was and the time left at its own pace (none: both epochs ran)
    assert meta["position"] == "epoch 2/2" and meta["eta"]["seconds"] == 0 and not meta["fitting"]
    assert len(result["history"]["val_accuracy"]) == 2 and result["test_accuracy"] > 0.5
    assert "chart_png" not in result and training.chart(connection, job_id)[:4] == b"\x89PNG"  # its own key
    assert ModelRegistry(connection).current() == result["version"]
    assert training.running(connection) is None  # the lock was released
    snapshot = client.training_snapshot(connection, job_id)
    assert snapshot.state == "finished" and snapshot.chart == training.chart(connection, job_id)


def test_a_model_below_the_gate_is_stored_but_not_promoted(connection, worker_settings, live_model):
    """The result says why it did not go live."""
    strict = dataclasses.replace(worker_settings, min_accuracy=1.0)
    job_id = training.start(connection, plan("tutorial", 1, 64), "admin", 3600)
    run_burst(connection, strict, queues=[TRAIN])
    result = Job.fetch(job_id, connection=connection, serializer=JSONSerializer).latest_result().return_value
    assert result["status"] == "stored" and "threshold" in result["reason"]
    assert ModelRegistry(connection).current() == live_model["version"]
    assert len(ModelRegistry(connection).versions()) == 2


def test_only_one_training_at_a_time(connection):
    """A second request is refused, naming who started the first and its progress."""
    training.start(connection, plan("tutorial", 5, 128), "alice", 3600)
    with pytest.raises(TrainingBusy, match="started by alice") as busy:
        training.start(connection, plan("tutorial", 5, 128), "bob", 3600)
    assert "waiting for a training worker" in str(busy.value)


def test_cancel_a_queued_training_drops_it(connection):
    """A training no worker has started yet is removed from the queue."""
    job_id = training.start(connection, plan("tutorial", 5, 128), "alice", 3600)
    training.request_cancel(connection)
    assert training.running(connection) is None
    assert get_queue(connection, TRAIN).count == 0
    assert Job.fetch(job_id, connection=connection, serializer=JSONSerializer).get_status() == JobStatus.CANCELED
    with pytest.raises(NotFound):
        training.request_cancel(connection)


def test_cancel_stops_a_running_training_cleanly(connection, worker_settings, monkeypatch):
    """The stop request is honoured between batches and the result says cancelled."""
    job_id = training.start(connection, plan("tutorial", 40, 16), "alice", 3600)
    connection.set(training.CANCEL.format(job_id=job_id), 1)  # as request_cancel does once it runs
    run_burst(connection, worker_settings, queues=[TRAIN])
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    result = job.latest_result().return_value
    assert job.get_status() == JobStatus.FINISHED
    assert result["status"] == "cancelled" and "cancelled after" in result["reason"]
    assert ModelRegistry(connection).current() is None


# --- faults -----------------------------------------------------------------------------------


def test_reviews_claimed_by_a_dead_worker_go_back_on_the_queue(connection, worker_settings, live_model):
    """A batch a worker claimed before dying is re-queued by the reaper and then scored."""
    jobs = [submit_review(connection, f"loved it {i}") for i in range(3)]
    queue = get_queue(connection, SCORE)
    for _ in jobs:  # what a worker's claim does
        connection.lmove(queue.key, INFLIGHT.format(name="ghost"), "LEFT", "RIGHT")
    connection.sadd(BEATING, "ghost")  # it sent heartbeats, then stopped (no alive key)
    assert queue.count == 0
    assert sorted(reap(connection)) == sorted(j.id for j in jobs)
    assert queue.job_ids == [j.id for j in jobs]
    run_burst(connection, worker_settings)
    assert all(wait_result(j, 2)["label"] == "positive" for j in jobs)


def test_a_file_job_of_a_killed_worker_is_rerun_by_another(connection, worker_settings, live_model):
    """SIGKILL mid-job: within 10 s another worker process picks the job up again. (A long job: a file on a
    worker whose model takes seconds per batch; a score-queue job runs milliseconds, and each job runs only
    from its own queue.)"""
    import subprocess
    import sys

    from tests.processes import worker_env

    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.slow_worker", "worker", "--queues", "files", "--name", "victim"],
        env=worker_env(worker_settings, SLOW_SCORING_S_PER_ROW="0.05"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    survivor = None
    try:
        wait_worker_ready(connection, "victim")
        job = client.submit_file(connection, "long.txt", b"a superb touching film\n" * 2000)
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 10)
        survivor = start_worker(worker_settings, "files", "survivor")
        wait_worker_ready(connection, "survivor")
        assert job.get_status(refresh=True) == JobStatus.STARTED  # the victim is still on its first batch
        os.kill(victim.pid, signal.SIGKILL)
        wait_for(  # within 10 s of the kill: the wait is the bound
            lambda: Job.fetch(job.id, connection=connection, serializer=JSONSerializer).worker_name == "survivor", 10
        )
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 60)
    finally:
        for process in (victim, survivor):
            if process is not None:
                process.kill()
                process.wait()


def test_a_killed_training_is_reported_failed(connection, worker_settings):
    """SIGKILL of the training worker: the job is failed and the lock freed within 10 s."""
    trainer = start_worker(worker_settings, "train", "trainer")
    watcher = start_worker(worker_settings, "score", "watcher")
    try:
        wait_worker_ready(connection, "watcher")
        job_id = training.start(connection, plan("tutorial", 300, 16), "alice", 3600)
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        wait_for(lambda: job.get_meta(refresh=True).get("epochs"), 60)
        os.kill(trainer.pid, signal.SIGKILL)
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.FAILED, 10)  # the wait is the 10 s bound
        assert "stopped unexpectedly" in failure_reason(job.get_meta(refresh=True))
        assert training.running(connection) is None
    finally:
        trainer.kill()
        trainer.wait()
        stop_process(watcher)


def test_worker_survives_redis_going_away(redis_server, worker_settings, live_model, tmp_path):
    """A worker keeps retrying while Redis is down and scores again once it is back."""
    from tests.processes import RedisServer
    from worker.connection import connect

    server = RedisServer().start()
    settings = type(worker_settings)(**{**worker_settings.__dict__, "redis_url": server.url})
    own = connect(server.url)
    ModelRegistry(own).add(ModelRegistry(connect(redis_server.url)).bundle_bytes(live_model["version"]), promote=True)
    log = tmp_path / "resilient.log"
    process = start_worker(settings, "score", "resilient", log)
    try:
        wait_worker_ready(own, "resilient")
        server.stop()
        wait_for(lambda: "retrying" in log.read_text(), 20)  # the worker has met the outage
        server = RedisServer(port=server.port).start()  # empty again: no persistence
        own = connect(server.url)
        ModelRegistry(own).add(
            ModelRegistry(connect(redis_server.url)).bundle_bytes(live_model["version"]), promote=True
        )
        assert wait_result(submit_review(own, "brilliant"), 15)["label"] == "positive"
    except redis.exceptions.RedisError:
        raise
    finally:
        stop_process(process)
        server.stop()


def test_a_lock_whose_job_is_still_being_enqueued_is_not_stale(connection):
    """The lock is taken just before its job is enqueued: a second request in that instant is refused,
    not taken for a stale lock (this let two admins start two trainings at once)."""
    import json as _json

    record = {"job_id": "train-not-yet", "requested_by": "alice", "started_at": "now", "epochs": 5}
    connection.set(training.LOCK, _json.dumps({**record, "taken_at": time.time()}))
    with pytest.raises(TrainingBusy, match="started by alice"):
        training.start(connection, plan("tutorial", 5, 128), "bob", 3600)
    connection.set(training.LOCK, _json.dumps({**record, "taken_at": time.time() - training.STARTING_S - 1}))
    assert training.start(connection, plan("tutorial", 5, 128), "bob", 3600)  # an old lock without a job is stale
