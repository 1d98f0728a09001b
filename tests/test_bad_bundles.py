"""Bundles that pass their checksums but must not serve (issue 21.4): any error while loading marks the
version broken once and the old model keeps serving; `sentibot model add --promote` test-loads first."""

from __future__ import annotations

import pytest

from sentibot.cli import main
from tests.factories import repacked
from tests.processes import start_worker, stop_process, wait_worker_ready
from worker.client import submit_review, wait_result
from worker.registry import CURRENT, ModelRegistry

pytestmark = pytest.mark.slow  # starts a worker process


BAD = {
    "20990101-000000-aaaaaa": {"maxlen": None},  # KeyError in TextEncoder.from_config
    "20990101-000000-bbbbbb": {"num_words": "many"},  # ValueError in TextEncoder.from_config
}


def test_a_promoted_bundle_that_raises_while_loading_is_marked_broken_once(
    connection, worker_settings, live_model, bundle_path, tmp_path
):
    """A KeyError, then a ValueError, from a promoted bundle's encoder: each version is recorded broken
    once, the worker logs it once, and every review still gets the old model's verdict."""
    log = tmp_path / "worker.log"
    process = start_worker(worker_settings, "score", "steady", log)
    registry = ModelRegistry(connection)
    try:
        wait_worker_ready(connection, "steady")
        for version, encoder in BAD.items():
            registry.add(repacked(bundle_path.read_bytes(), version, encoder), promote=True)
            for i in range(5):  # one at a time: each is a batch of its own, each reads the live pointer
                result = wait_result(submit_review(connection, f"a superb brilliant film {i}"), 15)
                assert result["label"] == "positive" and result["model"] == live_model["version"]
                assert version in result["warning"]
            assert connection.get(CURRENT).decode() == version  # still promoted: the worker just won't serve it
    finally:
        stop_process(process)
    errors = {version: registry.meta(version)["error"] for version in BAD}
    assert "KeyError" in errors["20990101-000000-aaaaaa"]
    assert "ValueError" in errors["20990101-000000-bbbbbb"]
    text = log.read_text()
    for version in BAD:
        assert text.count(f"model {version} refused") == 1


def test_model_add_promote_test_loads_the_bundle_first(
    connection, redis_server, live_model, bundle_path, tmp_path, monkeypatch, capsys
):
    """`sentibot model add BAD --promote`: one sentence naming the error, exit 1, nothing added, the live
    model unchanged; a good bundle still goes live."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    bad = tmp_path / "bad.sentibot"
    bad.write_bytes(repacked(bundle_path.read_bytes(), "20990101-000000-cccccc", {"maxlen": None}))
    assert main(["model", "add", str(bad), "--promote"]) == 1
    err = capsys.readouterr().err
    assert "could not be loaded (KeyError" in err and "live model is unchanged" in err
    assert "Traceback" not in err
    registry = ModelRegistry(connection)
    assert registry.current() == live_model["version"]
    assert "20990101-000000-cccccc" not in [r["version"] for r in registry.versions()]
    good = tmp_path / "good.sentibot"
    good.write_bytes(repacked(bundle_path.read_bytes(), "20990101-000000-dddddd"))
    assert main(["model", "add", str(good), "--promote"]) == 0
    assert registry.current() == "20990101-000000-dddddd"
