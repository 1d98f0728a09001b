"""The first start without `sentibot up` (as under docker compose): the training worker trains the first
model itself, the bot says how far it has got meanwhile, and `sentibot health` tells live from dead."""

from __future__ import annotations

import os
import signal

import pytest

from sentibot.cli import main
from tests.processes import (
    TOKEN,
    RedisServer,
    bot_env,
    start_bot,
    start_worker,
    stop_process,
    wait_for,
    wait_worker_ready,
)
from tests.telegram_standin import TelegramStandIn
from worker import health, training
from worker.registry import ModelRegistry

pytestmark = pytest.mark.slow  # starts workers and the bot


def spawn_worker(settings, queues: str, name: str | None = None, **extra: str):
    """A worker that trains the tutorial model when it trains the first one (quick)."""
    return start_worker(settings, queues, name, DEFAULT_ARCH="tutorial", **extra)


def test_the_trainer_trains_the_first_model_and_the_bot_says_so_meanwhile(connection, worker_settings, tmp_path):
    """No model live: the training worker starts the default training at once; a review meanwhile gets
    "the first model is training (epoch 1/5)"; once it is live, reviews get verdicts."""
    standin = TelegramStandIn(token=TOKEN).start()
    scorer = spawn_worker(worker_settings, "score", "first-scorer")
    trainer = spawn_worker(worker_settings, "train", "first-trainer", TRAIN_ON_FIRST_START="yes")
    bot = start_bot(bot_env(tmp_path, worker_settings.redis_url, standin, SCORE_TIMEOUT="6"), tmp_path / "bot.log")
    try:
        holder = wait_for(lambda: training.running(connection), 90)
        assert holder["requested_by"] == health.FIRST_START and holder["arch"] == "tutorial"
        wait_for(lambda: (training.running(connection) or {}).get("progress", {}).get("stage") == "training", 90)
        os.kill(trainer.pid, signal.SIGSTOP)  # hold it mid-training while a user writes
        wait_worker_ready(connection, "first-scorer")
        standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=30)
        standin.send_text(501, "a superb touching film")
        assert "the first model is training (epoch 1/5)" in standin.wait_text(501, "No model is live yet", 20)
        os.kill(trainer.pid, signal.SIGCONT)
        wait_for(lambda: ModelRegistry(connection).current(), 120)
        standin.send_text(502, "a superb touching film")
        answer = standin.wait_text(502, "%")  # a verdict now; how sure depends on the five quick epochs
        assert answer.startswith(("Positive (", "Mixed / not sure (")), answer
    finally:
        os.kill(trainer.pid, signal.SIGCONT)
        for process in (bot, scorer, trainer):
            stop_process(process)
        standin.stop()


def test_the_first_start_training_can_be_turned_off(connection, worker_settings):
    """TRAIN_ON_FIRST_START=no: a training worker on an empty registry starts nothing."""
    trainer = spawn_worker(worker_settings, "train", "idle-trainer", TRAIN_ON_FIRST_START="no")
    try:
        wait_worker_ready(connection, "idle-trainer")  # it beats only after deciding
        assert training.running(connection) is None and ModelRegistry(connection).current() is None
    finally:
        stop_process(trainer)


def test_health_says_whether_this_hosts_worker_and_bot_are_alive(connection, worker_settings, monkeypatch, capsys):
    """`sentibot health worker|bot`: 0 with a fresh heartbeat of this host's process, 1 without or without Redis."""
    monkeypatch.setenv("REDIS_URL", worker_settings.redis_url)
    assert main(["health", "worker"]) == 1
    assert "no worker on" in capsys.readouterr().out
    worker = spawn_worker(worker_settings, "score")  # default name: <hostname>.<pid>.<random>
    try:
        wait_for(
            lambda: [
                n
                for n in connection.smembers("sentibot:workers")
                if n.decode().startswith(health.HOST + f".{worker.pid}.")
            ],
            90,
        )
        assert main(["health", "worker"]) == 0
        assert f"{health.HOST}.{worker.pid}" in capsys.readouterr().out
    finally:
        stop_process(worker)
    assert main(["health", "worker"]) == 1  # a clean exit withdraws the heartbeat
    assert main(["health", "bot"]) == 1
    health.mark_bot_alive(connection)
    assert main(["health", "bot"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{RedisServer().port}/0")
    assert main(["health", "bot"]) == 1
    assert "Redis does not answer" in capsys.readouterr().out


def test_the_running_bot_confirms_it_is_polling(connection, worker_settings, tmp_path):
    """The bot process refreshes its health key while it polls."""
    standin = TelegramStandIn(token=TOKEN).start()
    bot = start_bot(bot_env(tmp_path, worker_settings.redis_url, standin), tmp_path / "bot.log")
    try:
        wait_for(lambda: connection.exists(health.BOT_ALIVE.format(host=health.HOST)), 30)
        assert 0 < connection.ttl(health.BOT_ALIVE.format(host=health.HOST)) <= health.BOT_ALIVE_TTL_S
    finally:
        stop_process(bot)
        standin.stop()
