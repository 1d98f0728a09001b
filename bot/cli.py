"""`sentibot bot`: run the Telegram bot."""

from __future__ import annotations

import argparse

from sentibot.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the bot command."""
    bot = subparsers.add_parser("bot", help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    bot.set_defaults(handler=run_bot)


def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    """Start polling."""
    from bot.app import run

    run(settings)
    return 0
