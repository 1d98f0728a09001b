"""A sentibot worker runs its own functions (worker.jobs.JOBS) and nothing else: no callback, webhook,
dependency or repeat that a job hash in Redis names is imported, called or followed (issue 21.2)."""

from __future__ import annotations

import http.server
import threading

import pytest
from rq import Callback
from rq.job import JobStatus
from rq.webhook import Webhook

from tests.processes import start_worker, stop_process, wait_for, wait_worker_ready
from worker.client import failure_reason, submit_review, wait_result
from worker.queues import SCORE, SCORE_JOB, TRAIN, get_queue

pytestmark = pytest.mark.slow  # starts a worker process

HOOKS = """
import pathlib
HERE = pathlib.Path(__file__).parent
(HERE / "imported").write_text("yes")


def hook(*args, **kwargs):
    (HERE / "called").write_text("yes")
"""


class Hits(http.server.BaseHTTPRequestHandler):
    """Counts every request a webhook would make."""

    count = 0

    def do_GET(self) -> None:
        Hits.count += 1
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hooks_dir(tmp_path):
    """A module a hostile job names as its callback: importing it, or calling its hook, leaves a file."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "evilhooks.py").write_text(HOOKS)
    return folder


@pytest.fixture
def listener():
    """A local HTTP server a hostile job names as its webhook."""
    Hits.count = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_callbacks_webhooks_dependencies_and_repeats_are_refused_untouched(
    connection, worker_settings, live_model, hooks_dir, listener, tmp_path
):
    """Each hostile job fails as ForbiddenJob with a log line; the hook module is never imported, no
    webhook is sent, and the worker keeps scoring."""
    log = tmp_path / "worker.log"
    process = start_worker(worker_settings, "score,train", "allowlist", log, PYTHONPATH=str(hooks_dir))
    try:
        wait_worker_ready(connection, "allowlist")
        score, train = get_queue(connection, SCORE), get_queue(connection, TRAIN)
        done = submit_review(connection, "a superb film")
        assert wait_result(done, 10)["label"] == "positive"
        hook = Callback("evilhooks.hook")
        text = {"text": "a superb brilliant film"}
        hostile = {
            "success callback": score.enqueue(SCORE_JOB, kwargs=text, on_success=hook),
            "failure callback": score.enqueue(SCORE_JOB, kwargs={"text": 42}, on_failure=hook),
            "stopped callback": score.enqueue(SCORE_JOB, kwargs=text, on_stopped=hook),
            "foreign function with a failure callback": train.enqueue("os.system", args=["true"], on_failure=hook),
            "webhook": score.enqueue(SCORE_JOB, kwargs=text, webhooks=[Webhook(listener, "finished")]),
            "failure webhook": score.enqueue("os.getcwd", webhooks=[Webhook(listener, "failed")]),
            "dependency": score.enqueue(SCORE_JOB, kwargs=text, depends_on=done.id),
        }
        for what, job in hostile.items():
            wait_for(lambda job=job: job.get_status(refresh=True) == JobStatus.FAILED, 15)
            meta = job.get_meta(refresh=True)
            assert meta["failure"]["kind"] == "ForbiddenJob", what
            assert "is not a sentibot job" in failure_reason(meta), what
        assert wait_result(submit_review(connection, "a superb brilliant film"), 10)["label"] == "positive"
    finally:
        stop_process(process)
    assert not (hooks_dir / "imported").exists() and not (hooks_dir / "called").exists()
    assert Hits.count == 0
    text = log.read_text()
    for job in hostile.values():
        assert f"refused job {job.id}" in text
    assert "with a success callback is not a sentibot job" in text
    assert "with dependencies on other jobs is not a sentibot job" in text
