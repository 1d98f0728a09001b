"""Running it: the terminal chat, `sentibot up`, and the compose file (checked without Docker)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.terminal import answer
from tests.processes import end_up, sigterm_leaves_no_child, spawn_up, start_worker, stop_process, wait_worker_ready

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def chat(connection, worker_settings, live_model):
    """A real scoring worker process and a function that types one line into the chat."""
    process = start_worker(worker_settings, "score", "chat-worker")
    wait_worker_ready(connection, "chat-worker")
    said: list[str] = []

    def type_line(line: str, reply: str = "n") -> str:
        said.clear()
        answer(line, worker_settings, connection, said.append, lambda prompt: reply)
        return "\n".join(said)

    yield type_line
    stop_process(process)


def test_terminal_chat_scores_and_answers_commands(chat, live_model):
    """Reviews get verdicts; /model, /status, unknown commands and bad /retrain arguments get sentences."""
    assert chat("a brilliant superb film").startswith("Positive (")
    assert live_model["version"] in chat("/model")
    assert "Workers alive: 1" in chat("/status")
    assert "/help" in chat("/dance")
    assert "whole number" in chat("/retrain epochs=many")
    assert chat("/cancel") == "No training is running."
    assert "no words" in chat("...")
    why = chat("/why a brilliant superb film")
    assert why.startswith("Why positive") and ("brilliant" in why or "superb" in why)
    assert "followed by a review" in chat("/why")


def run_up(home: Path, typed: str, **extra: str) -> subprocess.CompletedProcess:
    """`sentibot up` with no REDIS_URL or token, the given SENTIBOT_HOME, and `typed` as the chat's input."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN", "IMDB_DATA")}
    env.update(SENTIBOT_HOME=str(home), LOG_LEVEL="WARNING", **extra)
    return subprocess.run(
        [sys.executable, "-m", "sentibot.cli", "up"], input=typed, env=env, capture_output=True, text=True, timeout=120
    )


def test_sentibot_up_runs_the_stack_and_stops_it_cleanly(tmp_path, bundle_path):
    """Without REDIS_URL or a token: private Redis, workers, the local bundle goes live, the chat answers;
    end of input stops every child."""
    home = tmp_path / "home"
    (home / "bundles").mkdir(parents=True)
    (home / "bundles" / bundle_path.name).write_bytes(bundle_path.read_bytes())
    done = run_up(home, "superb touching film\n/quit\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"model {bundle_path.stem}" in done.stdout and "Positive (" in done.stdout
    assert (home / "redis" / "appendonly.aof").exists()  # persistence on
    port = re.search(r"private Redis at redis://127.0.0.1:(\d+)", done.stdout)[1]
    import redis

    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=int(port), socket_connect_timeout=1).ping()  # no orphan left running


def test_up_without_model_or_data_says_what_to_do(tmp_path):
    """No bundle and no reachable data: the first start explains how to point at the IMDB data."""
    done = run_up(tmp_path, "/quit\n", IMDB_DATA=str(tmp_path / "nowhere"))
    assert done.returncode == 0
    assert "No IMDB data" in done.stdout and "Set IMDB_DATA" in done.stdout


def test_sigterm_while_the_first_model_trains_stops_every_child(tmp_path, imdb_tarball):
    """SIGTERM during the first start's training: `up` stops Redis, both workers and the training."""
    child = spawn_up(tmp_path / "home", IMDB_DATA=str(imdb_tarball), DEFAULT_ARCH="tutorial")
    try:
        child.expect(r"no model yet: training the tutorial model")
        sigterm_leaves_no_child(child)
    finally:
        end_up(child)


def test_sigterm_at_the_chat_prompt_stops_every_child(tmp_path, bundle_path):
    """SIGTERM while the chat waits for a review: the same clean stop."""
    home = tmp_path / "home"
    (home / "bundles").mkdir(parents=True)
    (home / "bundles" / bundle_path.name).write_bytes(bundle_path.read_bytes())
    child = spawn_up(home)
    try:
        child.expect("review> ")
        sigterm_leaves_no_child(child)
    finally:
        end_up(child)


# --- docker-compose.yml, checked without a Docker engine ---------------------------------------


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_example() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.startswith("#")}


def test_compose_services_share_one_image_and_run_project_commands():
    """bot, worker, file-worker and trainer use the same build and run real `sentibot` subcommands."""
    from sentibot.cli import build_parser

    services = compose()["services"]
    assert {"redis", "bot", "worker", "file-worker", "trainer"} <= set(services)
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("bot", "worker", "file-worker", "trainer"):
        service = services[name]
        assert service["build"] == services["bot"]["build"]
        argv = service["command"]
        assert argv[0] == "sentibot" and argv[1] in commands
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["redis"] and "ports" not in services["redis"]
    assert services["worker"]["stop_grace_period"] and services["trainer"]["stop_grace_period"]
    assert services["worker"]["command"][-1] == "score" and services["file-worker"]["command"][-1] == "files"
    assert services["file-worker"]["stop_grace_period"]


def test_every_compose_variable_is_documented_and_a_setting():
    """${VARS} in the compose file are in .env.example and read by the settings module."""
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    settings_source = (ROOT / "common" / "settings.py").read_text()
    assert used <= env_example()
    for name in env_example() - {"REDIS_PASSWORD"}:
        assert f'"{name}"' in settings_source, name


def test_every_image_stage_copies_into_a_working_directory_of_its_own():
    """A relative COPY before any WORKDIR lands in /, and `pip install .` then walks /proc and /sys for minutes."""
    for stage in re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[1:]:
        workdir = False
        for line in stage.splitlines():
            words = line.split()
            if not words or not line[0].isupper():
                continue  # comments and continuation lines
            if words[0] == "WORKDIR":
                workdir = True
            elif words[0] == "COPY" and not words[-1].startswith("/"):
                assert workdir, f"{line!r} copies into / (no WORKDIR yet in stage {stage.splitlines()[0]!r})"


def test_compose_app_services_have_real_healthchecks():
    """bot, worker and trainer are checked by `sentibot health`, not left without a healthcheck."""
    services = compose()["services"]
    assert services["bot"]["healthcheck"]["test"] == ["CMD", "sentibot", "health", "bot"]
    for name in ("worker", "file-worker", "trainer"):
        assert services[name]["healthcheck"]["test"] == ["CMD", "sentibot", "health", "worker"]


def test_compose_has_no_default_redis_password():
    """Every use of REDIS_PASSWORD is ${REDIS_PASSWORD:?...}: compose refuses to start without one."""
    text = (ROOT / "docker-compose.yml").read_text()
    uses = re.findall(r"\$\{REDIS_PASSWORD([^}]*)\}", text)
    assert uses and all(use.startswith(":?") for use in uses)
    assert "change-me" not in text and "change-me" not in (ROOT / ".env.example").read_text()


def test_dockerfile_entry_point_exists():
    """The image's command is the project's console script, run as a non-root user."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'sentibot = "sentibot.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^CMD \["sentibot"', dockerfile, re.M) and re.search(r"^USER \w+", dockerfile, re.M)


def test_terminal_retrain_shows_progress_and_saves_the_chart(connection, worker_settings):
    """In the chat, /retrain prints a bar per epoch, the final report and where the chart went."""
    trainer = start_worker(worker_settings, "train", "chat-trainer")
    said: list[str] = []
    try:
        wait_worker_ready(connection, "chat-trainer")
        answer(
            "/retrain arch=tutorial epochs=2 batch_size=32",
            worker_settings,
            connection,
            said.append,
            lambda prompt: "n",
        )
    finally:
        stop_process(trainer)
    text = "\n".join(said)
    assert "Training queued as" in text and "epoch 2/2" in text and "▓" in text
    assert "Training finished: test accuracy" in text
    chart = Path(re.search(r"Chart saved to (\S+)", text)[1])
    assert chart.read_bytes()[:4] == b"\x89PNG"


LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR)\b|\[(score|train|redis)[-\d]*\]|absl|I0000|oneDNN|Worker \S+:")


def test_the_terminal_chat_shows_the_conversation_not_logs(tmp_path, bundle_path):
    """`sentibot up` without a token, in a real pseudo-terminal: prompts, verdicts and one pointer to the
    logs on screen; the workers' and Redis's log lines in SENTIBOT_HOME/logs instead."""
    import io

    import pexpect

    home = tmp_path / "home"
    (home / "bundles").mkdir(parents=True)
    (home / "bundles" / bundle_path.name).write_bytes(bundle_path.read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN", "IMDB_DATA")}
    env.update(SENTIBOT_HOME=str(home), LOG_LEVEL="INFO", TERM="dumb")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    screen = io.StringIO()
    child = pexpect.spawn(sys.executable, ["-m", "sentibot.cli", "up"], env=env, encoding="utf-8", timeout=90)
    child.logfile_read = screen
    try:
        child.expect("review> ")
        child.sendline("a superb touching film")
        child.expect(r"Positive \(\d+%\)")
        child.expect("review> ")
        child.sendline("/status")
        child.expect("Workers alive: 3")  # the scoring worker, the file worker and the trainer
        child.expect("review> ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        end_up(child)
    shown = screen.getvalue()
    assert not [line for line in shown.splitlines() if LOG_LINE.search(line)], shown
    assert shown.count(str(home / "logs")) == 1
    worker_log = (home / "logs" / "score-1.log").read_text()
    assert "Worker" in worker_log or "model" in worker_log  # RQ's and our INFO lines went to the file


def test_the_gpu_profile_runs_the_trainer_on_an_nvidia_device_with_tensorflows_cuda_libraries():
    """`docker compose --profile gpu up --scale trainer=0`: the same trainer command, an NVIDIA device
    reserved, TensorFlow's CUDA extra in its image; only with the profile (CPU machines never start it)."""
    gpu, trainer = compose()["services"]["trainer-gpu"], compose()["services"]["trainer"]
    assert gpu["profiles"] == ["gpu"] and gpu["command"] == trainer["command"]
    assert gpu["build"]["args"]["EXTRAS"] == "gpu" and gpu["image"] != trainer["image"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    extras = (ROOT / "pyproject.toml").read_text()
    assert 'gpu = ["tensorflow[and-cuda]"]' in extras
