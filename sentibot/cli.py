"""The `sentibot` command: one entry point, a subcommand per job.

Each package registers its own subcommands; heavy imports (TensorFlow) happen inside the
handlers that need them, so `sentibot bot` starts without loading Keras.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from common.errors import SentibotError
from common.settings import Settings, SettingsError


def build_parser() -> argparse.ArgumentParser:
    """The full command tree."""
    from bot import cli as bot_cli
    from model import cli as model_cli
    from sentibot import stack
    from worker import cli as worker_cli

    parser = argparse.ArgumentParser(prog="sentibot", description="Movie review sentiment bot and its tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_cli.register(subparsers)
    worker_cli.register(subparsers)
    bot_cli.register(subparsers)
    stack.register(subparsers)
    return parser


def check_settings(settings: Settings) -> None:
    """Checks that need a layer above ground: DEFAULT_ARCH must name an architecture of model/."""
    from model.recipes import ARCHITECTURE_NAMES

    if settings.default_arch not in ARCHITECTURE_NAMES:
        raise SettingsError(
            f"DEFAULT_ARCH must be one of {', '.join(ARCHITECTURE_NAMES)}, not {settings.default_arch!r}."
        )


def main(argv: list[str] | None = None) -> int:
    """Parse, load settings once, run the subcommand; errors become one line on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up banner out of the output
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        check_settings(settings)
    except SettingsError as exc:
        print(f"sentibot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args, settings) or 0)
    except SentibotError as exc:
        print(f"sentibot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
