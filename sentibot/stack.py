"""`sentibot up`: the whole service on one machine without Docker.

Starts Redis (REDIS_URL's, or a private one), a scoring worker, a file worker, a training worker and the bot
(or, without TELEGRAM_TOKEN, the terminal chat) as child processes with prefixed logs. The first
start puts a model live: the newest local bundle, else the fast first model (about a minute), and then
trains the default in the background (worker/health.py's rule).
Ctrl-C, or SIGTERM (what Docker, systemd and `kill` send), stops every child it started.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot import reports
from common.errors import SentibotError
from common.settings import Settings
from sentibot import processes
from sentibot.redis_server import RedisServer


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `sentibot up`."""
    up = subparsers.add_parser("up", help="start redis, workers and the bot (or the terminal chat)")
    up.add_argument("--score-workers", type=int, default=1, help="scoring worker processes (default 1)")
    up.add_argument("--dashboard", action="store_true", help="also start rq-dashboard on 127.0.0.1:DASHBOARD_PORT")
    up.set_defaults(handler=run_up)


@dataclass
class Children:
    """The processes `up` started, stopped in reverse order.

    Their output goes to the screen with a ``[label]`` prefix, or, with ``log_dir`` set (the terminal
    chat, where log lines would bury the conversation), to ``log_dir/<label>.log``.
    """

    log_dir: Path | None = None
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, label: str, argv: list[str], env: dict) -> subprocess.Popen:
        if self.log_dir is not None:
            with open(self.log_dir / f"{label}.log", "a") as log:
                process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            self.processes.append((label, process))
            return process
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.add(label, process)
        return process

    def add(self, label: str, process: subprocess.Popen) -> None:
        """Take over a process started elsewhere; its output (a pipe) is copied to the screen or its log."""
        self.processes.append((label, process))
        target = _to_file if self.log_dir is not None else _prefix
        threading.Thread(target=target, args=(label, process, self.log_dir), daemon=True).start()

    def stop(self) -> None:
        """SIGTERM them all at once, then wait for each (SIGKILL after 30 s)."""
        processes.stop_all([process for _, process in reversed(self.processes)], grace_s=30)


def _prefix(label: str, process: subprocess.Popen, log_dir: Path | None = None) -> None:
    for line in process.stdout or []:
        print(f"[{label}] {line}", end="", flush=True)


def _to_file(label: str, process: subprocess.Popen, log_dir: Path) -> None:
    with open(log_dir / f"{label}.log", "a") as log:
        for line in process.stdout or []:
            log.write(line)
            log.flush()


def chat_logs(settings: Settings) -> Path:
    """Send this process's own log lines to SENTIBOT_HOME/logs/up.log; return the folder."""
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(log_dir / "up.log")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    return log_dir


def ensure_model(settings: Settings, url: str, workers: list[int]) -> None:
    """Put a model live if none is (the newest local bundle, else the first start's fast model, followed
    here to its end), and leave the first start's next step running: the default, in the background.

    It waits for this start's ``workers`` (PIDs) first. A training that an earlier start left "started" (its
    stack stopped, Redis and all, mid-training) is seen as orphaned once its dead worker's heartbeat has
    expired, which the first-start rule waits out; it is then started anew.
    """
    from model import bundle
    from model.errors import ModelNotFound
    from worker import health
    from worker.connection import connect
    from worker.registry import ModelRegistry

    connection = connect(url)
    registry = ModelRegistry(connection)
    wait_for_workers(url, workers)
    if not registry.current():
        try:
            path = bundle.newest(settings.bundle_dir)
            registry.add(path.read_bytes(), promote=True)
            print(f"[up] model {path.stem} from {path} is live")
        except ModelNotFound:
            pass
    job_id = health.first_training(connection, settings)  # the one already running (an earlier start), or a new one
    if job_id is not None and not registry.current():
        follow_first_model(connection, settings, job_id)
        # the job queued the default itself once its model was live; a failed first training queues nothing
        job_id = health.first_training(connection, settings) if registry.current() else None
    if job_id is not None:
        print(
            f"[up] a better model ({settings.default_arch}) is training in the background; the live one answers "
            "meanwhile (/status shows how far it has got)"
        )


def follow_first_model(connection, settings: Settings, job_id: str) -> None:
    """Show the first model's training until it ends; say what to do if it failed."""
    from model import recipes
    from worker import client, health

    first = health.first_arch(settings.default_arch)
    source = settings.imdb_data or "Keras's download"
    later = (
        f" first; the default, {settings.default_arch}, follows in the background"
        if first != settings.default_arch
        else ""
    )
    print(f"[up] no model yet: training the {first} model from {source}{later} (first start only)")
    epochs, shown = recipes.plan(first).epochs, 0
    for snapshot in client.follow_training(connection, job_id):
        if len(snapshot.epochs) > shown:  # a new epoch: its line, once
            shown = len(snapshot.epochs)
            name = snapshot.epochs[-1].get("name") or f"epoch {shown}/{epochs}"
            print(f"[up] {name}: {reports.epoch_line(snapshot.epochs[-1])}")
        elif not snapshot.ended:
            print(f"[up] {snapshot.stage or 'waiting for the training worker'}")
    print(f"[up] {reports.training_ended(job_id, snapshot.state, snapshot.result, snapshot.reason)}")
    if snapshot.state != "finished":
        print(
            "[up] Without a model, reviews cannot be scored. Set IMDB_DATA to the aclImdb folder or "
            "aclImdb_v1.tar.gz and run `sentibot up` again (or /retrain from the chat)."
        )


def dashboard_argv(port: int, user: str) -> list[str]:
    """rq-dashboard on 127.0.0.1 with basic auth, reading RQ's JSON-serialised jobs; its Redis URL and password
    come from :func:`dashboard_env` (a command line is readable by every local user in `ps`)."""
    if importlib.util.find_spec("rq_dashboard") is None:
        raise SentibotError("The dashboard needs rq-dashboard: pip install 'sentibot[dashboard]'.")
    return [
        *[sys.executable, "-m", "rq_dashboard"],
        *["--bind", "127.0.0.1", "--port", str(port), "--json", "--username", user],
    ]


def dashboard_env(url: str, password: str) -> dict[str, str]:
    """The dashboard's secrets, in the environment rq-dashboard reads (RQ_DASHBOARD_*)."""
    return {"RQ_DASHBOARD_REDIS_URL": url, "RQ_DASHBOARD_PASSWORD": password}


def wait_for_workers(url: str, pids: list[int], timeout_s: float = 180) -> None:
    """Wait until the workers this start began (by PID) beat: they load TensorFlow and the model first,
    seconds. Workers are named ``<host>.<pid>.<random>``; an earlier start's may still look alive."""
    from worker.connection import connect
    from worker.health import HOST
    from worker.reaper import alive_workers

    connection = connect(url)
    ours = {f"{HOST}.{pid}." for pid in pids}

    def beating() -> bool:
        names = alive_workers(connection)
        return all(any(name.startswith(prefix) for name in names) for prefix in ours)

    try:
        processes.wait_for(beating, timeout_s, interval=0.2)
    except TimeoutError:
        print(f"[up] the workers are not ready after {timeout_s:.0f} s; reviews wait for them (see the logs)")


def interrupt_on_sigterm() -> None:
    """SIGTERM is Ctrl-C for `up`: wherever it is (training the first model, the chat, the bot), the
    interrupt reaches the one place that stops its children. Without this, a SIGTERM ended `up` at once
    and left its Redis and workers running, orphaned."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start everything; block until Ctrl-C or the front end ends.

    With a bot token, every process logs to this terminal with a prefix. Without one, the terminal is
    the chat: logs go to SENTIBOT_HOME/logs/ and the screen shows only the conversation and progress.
    """
    interrupt_on_sigterm()
    chat_mode = not settings.telegram_token
    children = Children(log_dir=chat_logs(settings) if chat_mode else None)
    if children.log_dir is not None:
        print(f"[up] logs of redis, the workers and this process: {children.log_dir}/*.log")
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
        "TRAIN_ON_FIRST_START": "no",  # `up` does the first start itself, after trying the local bundles
    }
    exe = [sys.executable, "-m", "sentibot.cli"]
    try:
        url = settings.redis_url
        if not url:
            server = RedisServer(
                data_dir=settings.home / "redis",
                capture_output=True,
                password=secrets.token_urlsafe(24),  # new each start; the children get it in REDIS_URL
                maxmemory_mb=settings.redis_maxmemory_mb,
            ).start()
            url = server.url
            children.add("redis", server.process)
            print(
                f"[up] private Redis at redis://127.0.0.1:{server.port}/0 (password-protected), "
                f"data in {settings.home / 'redis'}"
            )
        env["REDIS_URL"] = url
        workers = [
            *(
                children.start(f"score-{i + 1}", [*exe, "worker", "--queues", "score"], env).pid
                for i in range(max(1, args.score_workers))
            ),
            children.start("files", [*exe, "worker", "--queues", "files"], env).pid,  # uploads: never delay a review
            children.start("train", [*exe, "worker", "--queues", "train"], env).pid,
        ]
        if args.dashboard:
            password = settings.dashboard_password or secrets.token_urlsafe(12)
            argv = dashboard_argv(settings.dashboard_port, settings.dashboard_user)
            children.start("dashboard", argv, {**env, **dashboard_env(url, password)})
            shown = password if not settings.dashboard_password else "DASHBOARD_PASSWORD"
            print(
                f"[up] queue dashboard: http://127.0.0.1:{settings.dashboard_port}/ "
                f"(user {settings.dashboard_user}, password {shown})"
            )
        if settings.telegram_token:  # the bot answers from the first second, before a model is live too
            bot = children.start("bot", [*exe, "bot"], env)
            print("[up] the bot is running; Ctrl-C stops everything")
            ensure_model(settings, url, workers)
            processes.wait_interruptibly(bot)
        else:
            ensure_model(settings, url, workers)
            print("[up] no TELEGRAM_TOKEN: starting the terminal chat instead")
            from bot.terminal import run
            from worker.connection import connect

            run(Settings(**{**settings.__dict__, "redis_url": url}), connect(url))
    except KeyboardInterrupt:
        print("\n[up] stopping")
    except SentibotError:
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stopping short
        children.stop()
    return 0
