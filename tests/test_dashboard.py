"""The queue dashboard (rq-dashboard) as `sentibot up --dashboard` starts it, against the test Redis."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from sentibot.redis_server import free_port
from sentibot.stack import dashboard_argv, dashboard_env
from tests.processes import start_worker, stop_process, wait_for, wait_worker_ready

pytestmark = pytest.mark.slow  # starts a worker and the dashboard

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}


def fetch(port: int, path: str, headers: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def answers(port: int) -> bool:
    try:
        fetch(port, "/0/data/queues.json", AUTH)
        return True
    except (urllib.error.URLError, ConnectionError):
        return False


def test_the_dashboard_lists_our_queues_and_live_workers_behind_basic_auth(connection, worker_settings):
    """Both queues and the live worker are shown; without the password, nothing is."""
    worker = start_worker(worker_settings, "score,train", "watched")
    port = free_port()
    argv = dashboard_argv(port, "admin")
    assert "s3cret" not in " ".join(argv) and worker_settings.redis_url not in " ".join(argv)  # `ps` shows argv
    dashboard = subprocess.Popen(
        argv,
        env={**os.environ, **dashboard_env(worker_settings.redis_url, "s3cret")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_worker_ready(connection, "watched")
        wait_for(lambda: answers(port), 30)
        queues = {q["name"]: q for q in fetch(port, "/0/data/queues.json", AUTH)["queues"]}
        assert {"score", "train"} <= set(queues)
        workers = fetch(port, "/0/data/workers.json", AUTH)["workers"]
        assert [w["queues"] for w in workers if w["name"] == "watched"] == [["score", "train"]]
        with pytest.raises(urllib.error.HTTPError, match="401"):
            fetch(port, "/0/data/queues.json")
    finally:
        stop_process(dashboard)
        stop_process(worker)
