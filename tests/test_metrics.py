"""Prometheus metrics from a real worker and the real bot, scraped over HTTP after reviews went through."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import (
    TOKEN,
    bot_env,
    free_port,
    listening_ports,
    scrape,
    start_bot,
    start_worker,
    stop_process,
    value,
    wait_for,
    wait_worker_ready,
    worker_env,
)
from tests.telegram_standin import TelegramStandIn

pytestmark = pytest.mark.slow  # starts a worker and the bot

WORKER = [sys.executable, "-m", "sentibot.cli", "worker", "--queues", "score"]


def negative_counted(text: str) -> str | None:
    return text if value(text, "sentibot_reviews_scored_total", 'label="negative"') else None


def test_worker_and_bot_expose_what_they_did(connection, worker_settings, live_model, tmp_path):
    """Reviews scored through the bot move the worker's counters and latency, and the bot's update counts."""
    worker_port, bot_port = free_port(), free_port()
    worker = start_worker(worker_settings, "score", "metered", args=["--metrics-port", str(worker_port)])
    standin = TelegramStandIn(token=TOKEN).start()
    env = bot_env(tmp_path, worker_settings.redis_url, standin, RATE_LIMIT_PER_MINUTE="2")
    bot = start_bot(env, tmp_path / "bot.log", args=["--metrics-port", str(bot_port)])
    try:
        wait_worker_ready(connection, "metered")
        assert listening_ports(worker.pid) == {worker_port}
        standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=30)
        before = scrape(worker_port)
        assert value(before, "sentibot_workers_alive") == 1
        assert (
            value(before, "sentibot_live_model_test_accuracy", f'arch="tutorial",version="{live_model["version"]}"') > 0
        )
        standin.send_text(601, "a superb touching film")
        standin.wait_text(601, "Positive")
        standin.send_text(601, "an awful boring mess")
        standin.wait_text(601, "Negative")
        standin.send_text(601, "one more")  # over the limit of 2 a minute
        standin.wait_text(601, "Slow down")
        standin.send_text(601, "/help")
        standin.wait_text(601, "Commands")
        after = wait_for(lambda: negative_counted(scrape(worker_port)), 10)
        assert value(after, "sentibot_reviews_scored_total", 'label="positive"') >= 1
        assert value(after, "sentibot_score_latency_seconds_count") >= 2
        assert value(after, "sentibot_batch_size_count") >= 2
        assert value(after, "sentibot_score_queue_length") == 0
        assert value(after, "sentibot_training_running") == 0
        from_bot = scrape(bot_port)
        assert value(from_bot, "sentibot_updates_total", 'kind="review"') == 3
        assert value(from_bot, "sentibot_updates_total", 'kind="command"') == 1
        assert value(from_bot, "sentibot_rate_limited_total") == 1
        assert value(from_bot, "sentibot_error_replies_total") == 0
    finally:
        stop_process(bot)
        stop_process(worker)
        standin.stop()


def test_metrics_are_off_unless_asked_for(connection, worker_settings):
    """A worker started without METRICS_PORT listens on no port at all; set, it is the port, on 127.0.0.1
    unless METRICS_ADDRESS says (the metered worker above listens on exactly its port)."""
    from common.settings import Settings

    worker = start_worker(worker_settings, "score", "unmetered")
    try:
        wait_worker_ready(connection, "unmetered")
        assert listening_ports(worker.pid) == set()
    finally:
        stop_process(worker)
    configured = Settings.from_env({"METRICS_PORT": "9100"})
    assert configured.metrics_port == 9100 and configured.metrics_address == "127.0.0.1"


def test_a_metrics_port_in_use_is_one_sentence(worker_settings):
    """A worker asked to serve metrics on a port someone holds exits with a sentence, not a traceback."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [*WORKER, "--metrics-port", str(port)],
            env=worker_env(worker_settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"Could not serve metrics on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
