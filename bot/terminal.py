"""`sentibot chat`: the bot's conversation in a terminal, on the same queue and workers.

Used by `sentibot up` when no TELEGRAM_TOKEN is set. The terminal user counts as admin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from bot import replies, reports
from bot.line_input import LineInput
from bot.retrain_args import parse_retrain_args
from common.errors import SentibotError
from common.settings import Settings
from model.encoding import tokenize
from worker import client

WHO = "the terminal"


def show_training(
    connection: redis.Redis, job_id: str, epochs: int, charts: Path, say: Callable[[str], None], poll_s: float = 0.5
) -> client.TrainingSnapshot:
    """Print a progress bar per change until the training ends; save the chart; return the last snapshot."""
    for snapshot in client.follow_training(connection, job_id, poll_s):
        bar_line = reports.progress(job_id, snapshot.epochs, epochs, snapshot.stage).splitlines()[1]
        say(bar_line + (("\n" + reports.epoch_line(snapshot.epochs[-1])) if snapshot.epochs else ""))
    say(reports.training_ended(job_id, snapshot.state, snapshot.result, snapshot.reason))
    if snapshot.chart:
        charts.mkdir(parents=True, exist_ok=True)
        path = charts / f"{(snapshot.result or {}).get('version', job_id)}.png"
        path.write_bytes(snapshot.chart)
        say(replies.CHART_SAVED.format(path=path))
    return snapshot


def answer(
    line: str, settings: Settings, connection: redis.Redis, say: Callable[[str], None], ask: Callable[[str], str]
) -> bool:
    """Handle one typed line; False means quit."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    try:
        if command in ("/quit", "/exit"):
            return False
        if command in ("/help", "/start"):
            say(replies.TERMINAL_HELP)
        elif command == "/model":
            say(reports.model_info(client.live_model(connection), client.better_model_training(connection)))
        elif command == "/status":
            say(replies.status(*client.service_status(connection)))
        elif command == "/retrain":
            plan = parse_retrain_args(rest.split(), settings.default_arch)
            job_id = client.start_training(connection, plan, WHO, settings.train_timeout_s)
            say(replies.training_queued(job_id, plan))
            show_training(connection, job_id, plan.epochs, settings.home / "charts", say)
        elif command == "/cancel":
            running = client.running_training(connection)
            if running is None:
                say(replies.NO_TRAINING)
            elif ask(replies.TERMINAL_CANCEL.format(job_id=running["job_id"])).strip().lower() in ("y", "yes"):
                client.cancel_training(connection, running["job_id"])
                say(replies.TERMINAL_CANCELLING)
        elif command == "/why":
            if not tokenize(rest):
                say(replies.WHY_USAGE)
            else:
                say(replies.explanation(client.explain(connection, rest, settings.score_timeout_s)))
        elif command.startswith("/"):
            say(replies.unknown_command(command, "Type"))
        elif not tokenize(text):
            say(replies.NO_WORDS)
        else:
            say(replies.verdict(client.score(connection, text, settings.score_timeout_s), settings.mixed_band))
    except SentibotError as exc:
        say(str(exc))
    return True


def run(settings: Settings, connection: redis.Redis) -> None:
    """Read reviews and commands until /quit, end of input, Ctrl-C or (in `up`) SIGTERM."""
    print("sentibot chat: type a movie review (or /help). Ctrl-D or /quit to leave.")
    with LineInput() as read_line:
        while True:
            try:
                line = read_line("review> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if line.strip() and not answer(line, settings, connection, print, read_line):
                return
