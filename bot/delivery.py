"""Replies a user is owed by a deadline (a verdict within SCORE_TIMEOUT, an inline answer before Telegram
drops the query): sent, sent late, or not sent at all, and never silently.

Flood control (bot/flood.py) may hold a reply back: 200 replies at 30 a second take 6.7 s. One that
goes out after its deadline is still sent, and logged and counted (``sentibot_late_replies``); one
Telegram never takes (429s past the retries, the network) is logged and counted
(``sentibot_unsent_replies``) instead of failing the handler into a second, equally doomed reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from telegram.error import TelegramError

from bot import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")


async def owed(send: Awaitable[T], due: float, what: str) -> T | None:
    """Await ``send`` (a reply due by ``due``, in time.monotonic()); None when Telegram did not take it.

    ``what`` names the reply in the log (a chat or query id, never the user's text).
    """
    try:
        sent = await send
    except TelegramError as exc:
        metrics.UNSENT_REPLIES.inc()
        log.warning("%s was not sent: %s", what, exc)
        return None
    late = time.monotonic() - due
    if late > 0:
        metrics.LATE_REPLIES.inc()
        log.warning("%s went out %.1f s after its deadline (held back by Telegram's send rate)", what, late)
    return sent
