"""Flood control's rules (bot/flood.py) on their own: PTB's real AIORateLimiter with sentibot's pacing, driven
with a callback that records when each call would have reached Telegram (the end-to-end test against the
stand-in's 429 switch is in tests/test_bot_load.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import RetryAfter

from bot import metrics
from bot.flood import FloodControl, SendSkipped

pytestmark = pytest.mark.timed  # pacing is measured on the wall clock


def run(coroutine):
    return asyncio.run(coroutine)


class Telegram:
    """Records the time of every call; refuses the first ``refuse`` calls with 429."""

    def __init__(self, refuse: int = 0) -> None:
        self.at: list[float] = []
        self.refuse = refuse

    async def call(self, *args, **kwargs):
        if self.refuse:
            self.refuse -= 1
            raise RetryAfter(0)
        self.at.append(time.monotonic())
        return True


async def send(flood: FloodControl, telegram: Telegram, endpoint: str, chat_id: int | None):
    data = {"chat_id": chat_id} if chat_id is not None else {}
    return await flood.process_request(telegram.call, (), {}, endpoint, data, None)


def test_sends_to_many_chats_are_evenly_paced():
    """31 messages to 31 chats at once, at 30 a second: never two within the same 1/30 s, 1 s in all."""
    flood, telegram = FloodControl(30), Telegram()

    async def burst():
        await asyncio.gather(*(send(flood, telegram, "sendMessage", 100 + i) for i in range(31)))

    run(burst())
    gaps = [b - a for a, b in zip(telegram.at, telegram.at[1:], strict=False)]
    assert min(gaps) >= 1 / 30 * 0.9 and telegram.at[-1] - telegram.at[0] >= 30 / 30 * 0.95


def test_calls_without_a_chat_are_not_paced():
    """An inline answer or a button's answer carries no chat: 31 of them go out at once."""
    flood, telegram = FloodControl(30), Telegram()

    async def burst():
        await asyncio.gather(*(send(flood, telegram, "answerInlineQuery", None) for _ in range(31)))

    run(burst())
    assert telegram.at[-1] - telegram.at[0] < 0.5


def test_edits_of_one_chat_go_out_once_a_second():
    """Three progress edits of one chat at once: a second apart; an edit of another chat does not wait."""
    flood, telegram = FloodControl(30), Telegram()
    other = Telegram()

    async def edits():
        await asyncio.gather(
            *(send(flood, telegram, "editMessageText", 7) for _ in range(3)),
            send(flood, other, "editMessageText", 8),
        )

    started = time.monotonic()
    run(edits())
    assert telegram.at[-1] - telegram.at[0] >= 1.8
    assert other.at[0] - started < 0.5


def test_typing_is_skipped_while_replies_wait_for_a_slot():
    """A "typing..." call while messages are queued is not sent (SendSkipped); when idle it is."""
    flood, telegram = FloodControl(30), Telegram()

    async def busy():
        replies = [asyncio.ensure_future(send(flood, telegram, "sendMessage", 100 + i)) for i in range(10)]
        await asyncio.sleep(0.05)
        with pytest.raises(SendSkipped):
            await send(flood, telegram, "sendChatAction", 200)
        await asyncio.gather(*replies)
        await asyncio.sleep(0.1)
        return await send(flood, telegram, "sendChatAction", 200)

    assert run(busy()) is True
    assert len(telegram.at) == 11


def test_a_429_is_counted_and_retried():
    """Telegram refuses twice with retry_after: the call is tried again and goes out; both 429s counted."""
    flood, telegram = FloodControl(30), Telegram(refuse=2)
    before = metrics.TELEGRAM_429._value.get()
    assert run(send(flood, telegram, "sendMessage", 9)) is True
    assert len(telegram.at) == 1 and metrics.TELEGRAM_429._value.get() - before == 2


def test_past_the_retries_the_429_reaches_the_caller():
    """Refused more often than MAX_RETRIES allows: RetryAfter is raised (bot/delivery.py counts it unsent)."""
    flood, telegram = FloodControl(30, max_retries=1), Telegram(refuse=5)
    with pytest.raises(RetryAfter):
        run(send(flood, telegram, "sendMessage", 9))
    assert telegram.at == []
