"""`sentibot bot`: run the Telegram bot."""

from __future__ import annotations

import argparse
import dataclasses

from common.settings import Settings
from model.cli import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the bot command."""
    bot = subparsers.add_parser("bot", help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    bot.add_argument(
        "--metrics-port", type=positive_int(1, 65535), help="Prometheus metrics on this port (default: METRICS_PORT)"
    )
    bot.set_defaults(handler=run_bot)
    chat = subparsers.add_parser("chat", help="talk to the service from this terminal (you are admin)")
    chat.set_defaults(handler=run_chat)


def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    """Start polling."""
    from bot.app import run

    if args.metrics_port is not None:
        settings = dataclasses.replace(settings, metrics_port=args.metrics_port)
    run(settings)
    return 0


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    """The terminal front end."""
    from bot.terminal import run
    from worker.connection import connect

    run(settings, connect(settings.redis_url))
    return 0
