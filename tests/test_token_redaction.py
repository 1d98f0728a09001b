"""The bot token never reaches a log line or the terminal (issue 21.6)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest

from bot.logs import install_redaction
from tests.telegram_standin import TelegramStandIn

TOKEN = "987654:SECRET-redaction-token"


@pytest.fixture
def root_stream():
    """The root logger writing to a buffer, as `sentibot`'s basicConfig sets it up; restored afterwards."""
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = root.handlers[:]
    root.handlers = [handler]
    yield buffer
    root.handlers = saved


def test_the_formatter_redacts_message_args_exception_and_stack(root_stream):
    """The token in the message, in an argument, in an exception's text and with a stack: none survives."""
    install_redaction(TOKEN)
    log = logging.getLogger("tests.redaction")
    log.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
    log.warning(f"inline {TOKEN}")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("start failed", stack_info=True)
    out = root_stream.getvalue()
    assert TOKEN not in out
    assert out.count("<token>") == 3 and "Stack (most recent call last)" in out and "RuntimeError" in out


def test_a_rejected_token_is_one_sentence_without_the_token(redis_server, tmp_path):
    """`sentibot bot` with a token Telegram refuses (401 on getMe), even at DEBUG: exit 1, one sentence,
    the token nowhere in its output."""
    standin = TelegramStandIn(token="123456:the-right-one").start()
    try:
        env = {
            **os.environ,
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_URL": standin.api_url,
            "REDIS_URL": redis_server.url,
            "SENTIBOT_HOME": str(tmp_path / "home"),
            "LOG_LEVEL": "DEBUG",
        }
        done = subprocess.run(
            [sys.executable, "-m", "sentibot.cli", "bot"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        standin.stop()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "sentibot: Telegram rejected TELEGRAM_TOKEN" in done.stderr
    assert "Traceback" not in output
