"""Why bot/flood.py paces evenly: 200 replies at once against a Bot API stand-in that answers 429 past
30 sends a second, through PTB's AIORateLimiter as shipped and through FloodControl.

Run: python bench/flood_pacing.py [--replies 200]
Only the Telegram side (no Redis, no worker): the bot's own ExtBot sends one message to each of N chats
at once. For each limiter: seconds until the last reply, 429s the stand-in answered, replies lost.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import AIORateLimiter, ExtBot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.app import TELEGRAM_CONNECTIONS  # noqa: E402
from bot.flood import MAX_RETRIES, FloodControl  # noqa: E402
from tests.telegram_standin import TelegramStandIn  # noqa: E402

TOKEN = "123456:BENCH-token"


async def burst(standin: TelegramStandIn, limiter, replies: int) -> dict:
    """Send one message to each of ``replies`` chats at once; time the last, count the refused and lost."""
    bot = ExtBot(
        TOKEN,
        base_url=standin.api_url,
        rate_limiter=limiter,
        request=HTTPXRequest(connection_pool_size=TELEGRAM_CONNECTIONS, pool_timeout=60),
    )
    refused_before = standin.flood_refused
    async with bot:
        started = time.monotonic()

        async def one(chat: int) -> bool:
            try:
                await bot.send_message(chat, "Positive (94%)")
            except RetryAfter:
                return False
            return True

        sent = await asyncio.gather(*(one(50_000 + i) for i in range(replies)))
        seconds = time.monotonic() - started
    return {
        "last_reply_s": round(seconds, 2),
        "refused_429": standin.flood_refused - refused_before,
        "lost": sent.count(False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # PTB logs each lost reply with a traceback
    standin = TelegramStandIn(token=TOKEN).start()
    standin.flood_limit = 30
    figures = {}
    try:
        for name, make in (
            ("none", lambda: None),
            ("ptb_aioratelimiter_no_retry", lambda: AIORateLimiter()),
            ("ptb_aioratelimiter_3_retries", lambda: AIORateLimiter(max_retries=MAX_RETRIES)),
            ("floodcontrol", lambda: FloodControl(30)),
        ):
            time.sleep(1.5)  # the stand-in's window empties
            figures[name] = asyncio.run(burst(standin, make(), args.replies))
            print(f"{name}: {figures[name]}", flush=True)
    finally:
        standin.stop()
    print(json.dumps({"replies": args.replies, "stand_in_limit_per_s": 30, **figures}))


if __name__ == "__main__":
    main()
