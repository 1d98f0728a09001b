"""Webhook mode end to end: the real bot's webhook server takes updates the Bot API stand-in posts to
WEBHOOK_URL with the secret header, scores them through a real worker and Redis, refuses forged posts,
and switches to long polling and back."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.processes import TOKEN, bot_env, free_port, start_bot, start_worker, stop_process, wait_for
from tests.telegram_standin import TelegramStandIn

SECRET = "webhook-secret_for-tests-0123456789"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("webhook-home")


@pytest.fixture(scope="module")
def env(standin, redis_server, imdb_dir, home) -> dict:
    """The bot's and the worker's environment, in long-polling mode."""
    return bot_env(home, redis_server.url, standin, IMDB_DATA=str(imdb_dir))


@pytest.fixture(scope="module")
def worker(env):
    process = start_worker(None, "score", "webhook-worker", env=env)
    yield process
    stop_process(process)


@pytest.fixture
def ready(worker, connection, live_model):
    wait_for(lambda: connection.exists("sentibot:alive:webhook-worker"), 60)


def webhook_env(env: dict, port: int) -> dict:
    return {
        **env,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
    }


@contextlib.contextmanager
def running_bot(standin: TelegramStandIn, env: dict, log_path):
    """`sentibot bot` with ``env``, once it has registered (setWebhook, or deleteWebhook for polling)."""
    method = "setWebhook" if "WEBHOOK_URL" in env else "deleteWebhook"
    before = len(standin.calls(method=method))
    bot = start_bot(env, log_path)
    try:
        standin.wait_for(lambda s: len(s.calls(method=method)) > before, timeout=30)
        yield bot
    finally:
        stop_process(bot)


def post(url: str, update: dict, secret: str | None) -> int:
    """POST an update as Telegram would (or a forger); the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def forged_review(user_id: int, update_id: int) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Mallory"}
    message = {"message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"}, "from": user}
    return {"update_id": update_id, "message": {**message, "text": "a superb touching film"}}


def test_the_bot_switches_between_polling_and_webhook_without_losing_an_update(ready, standin, env, home):
    """Webhook mode sets the webhook with the secret; a review sent while no bot runs waits; long polling
    deletes the webhook first and answers it; webhook mode again sets it back and answers through it."""
    port = free_port()
    with running_bot(standin, webhook_env(env, port), home / "switch-1.log"):
        call = standin.calls(method="setWebhook")[-1]
        assert call.params["url"] == f"http://127.0.0.1:{port}/telegram/hook"
        assert call.params["secret_token"] == SECRET
        standin.send_text(811, "a superb touching film")
        assert standin.wait_text(811, "Positive").startswith("Positive (")
    standin.send_text(812, "an awful boring mess")  # no bot: Telegram keeps it (posts fail meanwhile)
    with running_bot(standin, env, home / "switch-2.log"):
        assert standin.webhook is None
        assert standin.wait_text(812, "Negative").startswith("Negative (")
        standin.send_text(813, "a superb touching film")
        assert standin.wait_text(813, "Positive")
    with running_bot(standin, webhook_env(env, port), home / "switch-3.log"):
        assert standin.webhook["url"].endswith(f":{port}/telegram/hook")
        update = standin.send_text(814, "an awful boring mess")
        assert standin.wait_text(814, "Negative")
        assert (update["update_id"], 200) in standin.webhook_posts
    assert "Traceback" not in (home / "switch-3.log").read_text()


@pytest.fixture(scope="module")
def webhook_bot(worker, standin, env, home):
    """One bot in webhook mode for the tests below."""
    port = free_port()
    with running_bot(standin, webhook_env(env, port), home / "webhook.log") as bot:
        yield {"process": bot, "url": f"http://127.0.0.1:{port}/telegram/hook"}


def test_a_review_arrives_through_the_webhook(ready, webhook_bot, standin):
    """The stand-in posts the update with the secret header; the verdict comes back; no getUpdates works
    meanwhile (409, as on Telegram)."""
    update = standin.send_text(821, "A superb, touching masterpiece. Loved it!")
    assert standin.wait_text(821, "%)").startswith("Positive (")
    assert (update["update_id"], 200) in standin.webhook_posts
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{standin.api_url}{TOKEN}/getUpdates", timeout=10)
    assert refused.value.code == 409


def test_a_forged_post_is_refused_and_never_processed(ready, webhook_bot, standin):
    """Without the secret header, or with a wrong one: 403, and no reply ever; with the right one the same
    post is processed (so the 403 is the secret's doing)."""
    url = webhook_bot["url"]
    assert post(url, forged_review(831, 900_001), None) == 403
    assert post(url, forged_review(831, 900_002), "not-the-secret") == 403
    with pytest.raises(AssertionError):
        standin.wait_for(lambda s: s.calls(831), timeout=3)
    assert post(url, forged_review(832, 900_003), SECRET) == 200
    assert standin.wait_text(832, "Positive")
    assert standin.calls(831) == []


def test_health_works_in_webhook_mode(ready, webhook_bot, connection, env):
    """`sentibot health bot` is 0 while the webhook bot takes updates (its beat is back after a flush)."""
    from worker import health

    connection.delete(health.BOT_ALIVE.format(host=health.HOST))
    wait_for(lambda: connection.exists(health.BOT_ALIVE.format(host=health.HOST)), 3 * health.BOT_BEAT_S)
    done = subprocess.run(
        [sys.executable, "-m", "sentibot.cli", "health", "bot"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "taking updates" in done.stdout


def test_webhook_settings(monkeypatch, capsys):
    """Defaults 8443 on 127.0.0.1; WEBHOOK_URL without WEBHOOK_SECRET, or a malformed one, stops `sentibot bot`
    with one sentence naming the variable."""
    from common.settings import Settings
    from sentibot.cli import main

    settings = Settings.from_env({})
    assert (settings.webhook_url, settings.webhook_port, settings.webhook_listen) == ("", 8443, "127.0.0.1")
    for name in ("WEBHOOK_SECRET", "TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
    assert main(["bot"]) == 2
    assert "WEBHOOK_SECRET must be set with WEBHOOK_URL" in capsys.readouterr().err
    monkeypatch.setenv("WEBHOOK_SECRET", "has spaces")
    assert main(["bot"]) == 2
    assert "WEBHOOK_SECRET must be 1-256 characters" in capsys.readouterr().err
    monkeypatch.setenv("WEBHOOK_URL", "bot.example.org/telegram")
    assert main(["bot"]) == 2
    assert "WEBHOOK_URL must be the public https:// URL" in capsys.readouterr().err
    assert repr(SECRET) not in repr(Settings(webhook_url="https://x.org/t", webhook_secret=SECRET))


@pytest.mark.slow  # starts the bot
def test_a_webhook_port_in_use_is_one_sentence(standin, env):
    """WEBHOOK_PORT held by someone else: `sentibot bot` exits with a sentence naming it, no traceback."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sentibot.cli", "bot"],
            env={**webhook_env(env, port), "REDIS_URL": "redis://127.0.0.1:1/0"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Could not listen for webhooks on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_the_compose_webhook_profile_puts_a_proxy_in_front_of_the_bot_replicas():
    """`--profile webhook`: nginx on 443 with the config in deploy/, passing posts to bot:8443 (the webhook
    port the bot listens on, on 0.0.0.0 inside its container), re-resolving `bot` so every replica gets posts;
    the bot itself publishes nothing."""
    from pathlib import Path

    import yaml

    from common.settings import Settings

    root = Path(__file__).resolve().parents[1]
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    proxy = services["proxy"]
    assert proxy["profiles"] == ["webhook"] and proxy["ports"] == ["443:443"]
    config_mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/nginx/conf.d/default.conf:ro"))
    config = (root / config_mount.split(":")[0]).read_text()
    assert f"http://bot:{Settings().webhook_port};" in config and "resolver 127.0.0.11" in config
    assert "ssl_certificate " in config and "listen 443 ssl" in config
    assert services["bot"]["environment"]["WEBHOOK_LISTEN"] == "0.0.0.0" and "ports" not in services["bot"]
    assert proxy["depends_on"]["bot"]["condition"] == "service_healthy"


def test_the_webhook_secret_never_appears_in_the_logs(ready, standin, env, home):
    """At DEBUG PTB logs setWebhook's parameters: the bot's log shows <webhook secret> instead."""
    log_path = home / "debug.log"
    with running_bot(standin, {**webhook_env(env, free_port()), "LOG_LEVEL": "DEBUG"}, log_path):
        pass
    log = log_path.read_text()
    assert "setWebhook" in log and "<webhook secret>" in log
    assert SECRET not in log
