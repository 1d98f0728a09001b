"""Versions read from Redis never become paths, and the worker's bundle cache on disk stays small (issue 21.5)."""

from __future__ import annotations

import hashlib
import json

import pytest

from model.errors import BundleCorrupt
from sentibot.cli import main
from tests.factories import repacked
from tests.processes import start_worker, stop_process, wait_worker_ready
from worker.client import submit_review, wait_result
from worker.model_cache import LOCAL_KEPT
from worker.registry import CURRENT, PREFIX, ModelRegistry

pytestmark = pytest.mark.slow  # starts a worker process

EVIL = "../../evil"


def test_a_version_that_is_a_path_is_never_followed(connection, worker_settings, live_model, bundle_path, tmp_path):
    """`current` pointing at '../../evil' (bundle and record written straight into Redis): nothing is written
    outside the worker's cache, the old model keeps serving and says why; the registry refuses such a bundle."""
    log = tmp_path / "worker.log"
    process = start_worker(worker_settings, "score", "pathless", log)
    data = bundle_path.read_bytes()
    try:
        wait_worker_ready(connection, "pathless")
        connection.set(f"{PREFIX}bundle:{EVIL}", data)
        connection.set(
            f"{PREFIX}meta:{EVIL}", json.dumps({"version": EVIL, "sha256": hashlib.sha256(data).hexdigest()})
        )
        connection.set(CURRENT, EVIL)
        for i in range(3):
            result = wait_result(submit_review(connection, f"a superb brilliant film {i}"), 15)
            assert result["label"] == "positive" and result["model"] == live_model["version"]
            assert "is not a model version" in result["warning"]
    finally:
        stop_process(process)
    escaped = [p for p in tmp_path.rglob("*evil*")]
    assert escaped == [] and not (worker_settings.home / "evil.sentibot").exists()
    assert log.read_text().count("live model pointer refused") == 1
    with pytest.raises(BundleCorrupt, match="is not a model version"):
        ModelRegistry(connection).add(repacked(data, "../x"))


def test_the_cli_refuses_a_path_for_a_version(connection, redis_server, monkeypatch, capsys):
    """`sentibot model show ../../x`: one sentence, exit 1."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert main(["model", "show", EVIL]) == 1
    assert "is not a model version" in capsys.readouterr().err


def test_the_workers_bundle_cache_keeps_only_the_newest(connection, worker_settings, live_model, bundle_path):
    """Five versions promoted in turn, each served: the worker's disk cache holds LOCAL_KEPT bundles, the live
    one among them."""
    process = start_worker(worker_settings, "score", "pruner")
    registry = ModelRegistry(connection)
    versions = [f"20990101-00000{i}-abcdef" for i in range(5)]
    try:
        wait_worker_ready(connection, "pruner")
        for version in versions:
            registry.add(repacked(bundle_path.read_bytes(), version), promote=True)
            assert wait_result(submit_review(connection, "a superb brilliant film"), 15)["model"] == version
    finally:
        stop_process(process)
    cached = sorted(p.name for p in (worker_settings.home / "worker-bundles").glob("*.sentibot"))
    assert cached == [f"{v}.sentibot" for v in versions[-LOCAL_KEPT:]]
