"""Flood control: every message and edit the bot sends is paced to Telegram's limits.

Telegram answers ``429 Too Many Requests`` (with ``retry_after``) past about 30 messages a second in all,
20 a minute in one group, and about one a second in one chat for more than a short burst. Without
pacing, a burst of users loses every reply past that rate. This is PTB's ``AIORateLimiter`` (the
``python-telegram-bot[rate-limiter]`` extra: the 20-a-minute group limit, and a retry after
``retry_after`` when Telegram still says 429) with three rules added, all measured in
tests/test_bot_load.py against a stand-in that answers 429 past 30 sends a second:

- the overall pace is even, one send every 1/30 s, not PTB's default bucket of 30 at once and then
  30 a second, which is up to 59 sends in the first second: for 200 replies at once the stand-in
  refused 35-47 of those with 429 (lost with PTB's default of no retry; 7.4 s with 3 retries), and
  none of the evenly paced ones (6.8 s) (bench/flood_pacing.py);
- edits of one message-heavy chat (file and training progress) go out at most once a second;
- a cosmetic call ("typing...") never waits for a slot: when none is free it is skipped
  (:class:`SendSkipped`), so it never delays a verdict nor spends a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter

from bot import metrics

log = logging.getLogger(__name__)

MAX_RETRIES = 3  # a send Telegram refuses with 429 is tried again this often, each after its retry_after
GROUP_PER_MINUTE = 20  # Telegram: messages a minute in one group
CHAT_EDITS_PER_SECOND = 1  # Telegram: about one message a second in one chat, past a short burst
COSMETIC = frozenset({"sendChatAction"})  # nice to have, never worth waiting for
EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
KEPT_CHAT_LIMITERS = 512  # per-chat edit limiters kept before the idle ones are dropped


class SendSkipped(TelegramError):
    """A cosmetic call found no free send slot and was not sent (nothing to retry, nothing lost)."""


Callback = Callable[..., Coroutine[Any, Any, Any]]


class FloodControl(AIORateLimiter):
    """PTB's AIORateLimiter with an even overall pace, per-chat edit pacing and skipped cosmetic calls."""

    def __init__(self, per_second: int, max_retries: int = MAX_RETRIES) -> None:
        # PTB's overall bucket is off (0): the even pace below replaces it, inside PTB's retry loop
        super().__init__(
            overall_max_rate=0, group_max_rate=GROUP_PER_MINUTE, group_time_period=60, max_retries=max_retries
        )
        self.pace = AsyncLimiter(1, 1 / per_second) if per_second > 0 else None
        self.chat_edits: dict[int | str, AsyncLimiter] = {}
        self.queued = 0  # sends waiting for a slot or an answer right now

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Pace a call with a chat_id (one with none, an inline answer or getMe, is not a message)."""
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        if endpoint in COSMETIC:
            return await self._cosmetic(callback, args, kwargs, endpoint)
        self.queued += 1
        try:
            if endpoint in EDITS:
                async with self._chat_edits(chat_id):
                    return await super().process_request(
                        self._paced(callback), args, kwargs, endpoint, data, rate_limit_args
                    )
            return await super().process_request(self._paced(callback), args, kwargs, endpoint, data, rate_limit_args)
        finally:
            self.queued -= 1

    def _paced(self, callback: Callback) -> Callback:
        """The call, each try of it taking one slot of the overall pace; 429s counted."""

        async def paced(*args: Any, **kwargs: Any) -> Any:
            if self.pace is None:
                return await counted(callback, *args, **kwargs)
            async with self.pace:
                return await counted(callback, *args, **kwargs)

        return paced

    async def _cosmetic(self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str) -> Any:
        if self.pace is None:
            return await counted(callback, *args, **kwargs)
        if self.queued or not self.pace.has_capacity():
            raise SendSkipped(f"{endpoint} skipped: the bot is busy sending replies")
        async with self.pace:
            return await counted(callback, *args, **kwargs)

    def _chat_edits(self, chat_id: int | str) -> AsyncLimiter:
        if len(self.chat_edits) > KEPT_CHAT_LIMITERS:
            for key, limiter in list(self.chat_edits.items()):
                if limiter.has_capacity(limiter.max_rate):  # idle for a second or more
                    del self.chat_edits[key]
        if chat_id not in self.chat_edits:
            self.chat_edits[chat_id] = AsyncLimiter(CHAT_EDITS_PER_SECOND, 1)
        return self.chat_edits[chat_id]


async def counted(callback: Callback, *args: Any, **kwargs: Any) -> Any:
    """Run one try; a 429 is counted (``sentibot_telegram_429``) before PTB's loop retries it."""
    try:
        return await callback(*args, **kwargs)
    except RetryAfter as exc:
        metrics.TELEGRAM_429.inc()
        log.info("Telegram said 429: %s", exc)
        raise
