"""`sentibot chat`: the bot's conversation in a terminal, on the same queue and workers.

Used by `sentibot up` when no TELEGRAM_TOKEN is set. The terminal user counts as admin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import redis

from bot import replies
from bot.retrain_args import parse_retrain_args
from model.encoding import tokenize
from sentibot.errors import SentibotError
from sentibot.settings import Settings
from worker import service, training
from worker.client import explain, score

WHO = "the terminal"


def follow_training(
    connection: redis.Redis, job_id: str, epochs: int, charts: Path, say: Callable[[str], None], poll_s: float = 0.5
) -> dict:
    """Print a progress bar per epoch until the training ends; save the chart; return the final state."""
    shown = -1
    while True:
        state = service.training_state(connection, job_id)
        done = (state.get("meta") or {}).get("epochs", [])
        if len(done) != shown:
            shown = len(done)
            say(
                replies.progress(job_id, done, epochs, (state.get("meta") or {}).get("stage", "")).splitlines()[1]
                + (("\n" + replies.epoch_line(done[-1])) if done else "")
            )
        if state["state"] != "running":
            break
        time.sleep(poll_s)
    if state["state"] == "finished":
        say(replies.training_done(state["result"]))
        if state["chart"]:
            charts.mkdir(parents=True, exist_ok=True)
            path = charts / f"{state['result'].get('version', job_id)}.png"
            path.write_bytes(state["chart"])
            say(f"Chart saved to {path}")
    elif state["state"] == "failed":
        say(f"Training failed: {state['reason']}")
    else:
        say("Training was cancelled before it started.")
    return state


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
            say(replies.HELP + "\n/why REVIEW – the words that decided a review's verdict\n/quit – leave")
        elif command == "/model":
            say(replies.model_info(service.live_model(connection)))
        elif command == "/status":
            say(replies.status(*service.service_status(connection)))
        elif command == "/retrain":
            request = parse_retrain_args(rest.split(), settings.default_arch)
            job_id = training.start(
                connection,
                request.arch,
                request.epochs,
                request.batch_size,
                WHO,
                None,
                settings.train_timeout_s,
                request.sentences,
            )
            say(replies.training_queued(job_id, request))
            follow_training(connection, job_id, request.epochs, settings.home / "charts", say)
        elif command == "/cancel":
            running = training.running(connection)
            if running is None:
                say("No training is running.")
            elif ask(f"Stop training {running['job_id']}? [y/N] ").strip().lower() in ("y", "yes"):
                training.request_cancel(connection, running["job_id"])
                say("Cancelling: it stops after the current batch.")
        elif command == "/why":
            if not tokenize(rest):
                say("Type /why followed by a review, and I'll list the words that decided its verdict.")
            else:
                say(replies.explanation(explain(connection, rest, settings.score_timeout_s)))
        elif command.startswith("/"):
            say(f"I don't know {command}. Type /help to see what I can do.")
        elif not tokenize(text):
            say(replies.NO_WORDS)
        else:
            say(replies.verdict(score(connection, text, settings.score_timeout_s)))
    except SentibotError as exc:
        say(str(exc))
    return True


def run(settings: Settings, connection: redis.Redis) -> None:
    """Read reviews and commands until /quit or end of input."""
    print("sentibot chat: type a movie review (or /help). Ctrl-D or /quit to leave.")
    while True:
        try:
            line = input("review> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line.strip() and not answer(line, settings, connection, print, input):
            return
