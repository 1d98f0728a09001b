"""`sentibot model ...` and `sentibot score` against a real Redis."""

from __future__ import annotations

import json

import pytest

from sentibot.cli import main
from tests.processes import start_worker, stop_process, wait_worker_ready

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes


@pytest.fixture
def env(monkeypatch, redis_server, tmp_path, connection):
    """Point the CLI at the test Redis."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("SENTIBOT_HOME", str(tmp_path))
    return connection


def test_model_add_list_show_promote_rollback(env, bundle_path, capsys, tmp_path):
    """The registry from the command line, in text and in JSON."""
    from tests.factories import second_version

    assert main(["model", "list"]) == 0
    assert "No models yet" in capsys.readouterr().out
    assert main(["model", "add", str(bundle_path), "--promote", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["added"]
    other = tmp_path / "other.sentibot"
    other.write_bytes(second_version(bundle_path))
    assert main(["model", "add", str(other), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)["added"]
    assert main(["model", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["version"] for r in listed] == [second, first] and listed[1]["live"]
    assert main(["model", "list"]) == 0
    assert "tutorial" in capsys.readouterr().out
    assert main(["model", "promote", second]) == 0
    assert main(["model", "show", second, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["live"] is True
    assert main(["model", "rollback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"live": first}


def test_model_commands_explain_mistakes(env, tmp_path, bundle_path, capsys):
    """Unknown versions, damaged files and an empty rollback are one line each."""
    assert main(["model", "show", "nope"]) == 1
    assert "No model version 'nope'" in capsys.readouterr().err
    broken = tmp_path / "broken.sentibot"
    broken.write_bytes(bundle_path.read_bytes()[:300])
    assert main(["model", "add", str(broken)]) == 1
    assert "damaged" in capsys.readouterr().err
    assert main(["model", "rollback"]) == 1
    assert "no earlier live model" in capsys.readouterr().err
    assert main(["model", "add", str(tmp_path / "missing.sentibot")]) == 1
    assert "Could not read" in capsys.readouterr().err


def test_score_through_the_running_service(env, worker_settings, live_model, capsys):
    """`sentibot score` prints one JSON verdict per review, scored by a worker process."""
    process = start_worker(worker_settings, "score", "cli-worker")
    try:
        wait_worker_ready(env, "cli-worker")
        assert main(["score", "a superb brilliant film", "awful dull mess"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["label"] for r in rows] == ["positive", "negative"]
        assert all(r["model"] == live_model["version"] and r["round_trip_ms"] > 0 for r in rows)
    finally:
        stop_process(process)


def test_score_without_a_worker_or_redis_is_one_line(env, monkeypatch, live_model, capsys):
    """No worker: a timeout sentence. No Redis: 'not reachable'."""
    assert main(["score", "--wait", "1", "anyone?"]) == 1
    assert "Could not get a verdict within" in capsys.readouterr().err
    from tests.processes import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["score", "hello"]) == 1
    assert "not reachable" in capsys.readouterr().err


def test_worker_rejects_unknown_queue_names(capsys):
    """A typo in --queues is an argparse error naming the valid names."""
    with pytest.raises(SystemExit):
        main(["worker", "--queues", "scoring"])
    assert "use score, files, train" in capsys.readouterr().err


def test_model_add_and_predict_take_the_directory_train_wrote(env, bundle_path, tmp_path, capsys):
    """`sentibot train --out models/` then `sentibot model add models/`: a directory means its newest bundle."""
    models = bundle_path.parent
    assert main(["predict", "--model", str(models), "a superb film"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == bundle_path.stem
    assert main(["model", "add", str(models), "--promote", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": bundle_path.stem, "live": True}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["model", "add", str(empty)]) == 1
    assert "No trained model in" in capsys.readouterr().err
