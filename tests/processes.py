"""Starting sentibot's own processes for the tests, one way each: Redis, a worker, the bot.

Every process is a real ``python -m sentibot.cli ...`` child, stopped by the test (or fixture) that
started it, by PID. The Bot API stand-in the bot talks to is tests/telegram_standin.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from sentibot.processes import stop as stop_process
from sentibot.processes import stop_all, wait_for
from sentibot.redis_server import RedisServer, free_port

__all__ = [
    "ADMIN",
    "FEEDBACK_ADMIN",
    "TOKEN",
    "RedisServer",
    "alive",
    "bot_and_worker",
    "bot_env",
    "children_of",
    "free_port",
    "listening_ports",
    "run_burst",
    "scrape",
    "sentibot",
    "start_bot",
    "start_worker",
    "stop_process",
    "value",
    "wait_for",
    "wait_worker_ready",
    "worker_env",
]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:SECRET-test-token"
ADMIN = 42
FEEDBACK_ADMIN = 43  # a second admin with a chat of its own, so its training reports match no other test's waits


def sentibot(argv: Sequence[str], env: dict, log_path: Path | None = None) -> subprocess.Popen:
    """``sentibot ARGV...`` as a child process; its log to ``log_path`` (appended) if given."""
    return subprocess.Popen(
        [sys.executable, "-m", "sentibot.cli", *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "a") if log_path else subprocess.DEVNULL,
    )


def worker_env(settings, **extra: str) -> dict:
    """Environment for a real `sentibot worker` process with ``settings``."""
    return {
        **os.environ,
        "SENTIBOT_HOME": str(settings.home),
        "IMDB_DATA": settings.imdb_data,
        "REDIS_URL": settings.redis_url,
        "PROMOTE_MIN_ACCURACY": str(settings.min_accuracy),
        "TRAIN_ON_FIRST_START": "no",  # each test decides when a model is live
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_worker(
    settings,
    queues: str,
    name: str | None,
    log_path: Path | None = None,
    args: Sequence[str] = (),
    env: dict | None = None,
    **extra: str,
) -> subprocess.Popen:
    """A real worker on ``queues`` (named ``name``, or by the worker itself when None); its environment is
    ``env`` when given, else :func:`worker_env` of ``settings`` plus ``extra``."""
    named = ["--name", name] if name else []
    return sentibot(["worker", "--queues", queues, *named, *args], env or worker_env(settings, **extra), log_path)


def wait_worker_ready(connection, name: str, timeout: float = 60) -> None:
    """Wait until a worker process sends heartbeats (it has loaded TensorFlow and its model)."""
    wait_for(lambda: connection.exists(f"sentibot:alive:{name}"), timeout)


def bot_env(home, redis_url: str, standin, **extra: str) -> dict:
    """Environment for a real `sentibot bot` process talking to the stand-in."""
    return {
        **os.environ,
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_URL": standin.api_url,
        "REDIS_URL": redis_url,
        "ADMIN_IDS": f"{ADMIN},{FEEDBACK_ADMIN}",
        "SENTIBOT_HOME": str(home),
        "LOG_LEVEL": "INFO",
        "SCORE_TIMEOUT": "6",
        "PROMOTE_MIN_ACCURACY": "0.5",
        "TRAIN_ON_FIRST_START": "no",  # each test decides when a model is live
        **extra,
    }


def start_bot(env: dict, log_path: Path, args: Sequence[str] = ()) -> subprocess.Popen:
    """`sentibot bot` as a child process, logging to a file."""
    return sentibot(["bot", *args], env, log_path)


@contextlib.contextmanager
def bot_and_worker(standin, env: dict, home: Path, worker_name: str, **bot_only: str) -> Iterator[dict]:
    """A real worker (score + train) and the bot, both with ``env`` (the bot also with ``bot_only``: a
    METRICS_PORT, say); stopped by PID afterwards."""
    worker = start_worker(None, "score,train", worker_name, env=env)
    bot = start_bot({**env, **bot_only}, home / "bot.log")
    try:
        standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=30)
        yield {"home": home, "bot": bot, "worker": worker}
    finally:
        os.kill(worker.pid, signal.SIGCONT)  # in case a test left it stopped
        stop_all([bot, worker])


def run_burst(connection, settings, queues: Sequence[str] = ("score",), models=None) -> None:
    """Work every queued job in this process, then return (RQ's burst mode); a fresh model cache by default."""
    from worker.run import build_worker

    build_worker(connection, list(queues), settings, models).work(burst=True, logging_level="WARNING")


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on (Linux: its socket inodes in /proc/<pid>/fd, matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def children_of(pid: int) -> set[int]:
    """PIDs whose parent is ``pid`` now (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def scrape(port: int) -> str:
    """The Prometheus exposition a process serves on 127.0.0.1:port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def value(text: str, name: str, labels: str = "") -> float:
    """The sample ``name{labels}`` in an exposition, 0 when absent."""
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''} ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.M)
    return float(match[1]) if match else 0.0


def spawn_up(home: Path, **extra: str):
    """`sentibot up` in a pseudo-terminal (the chat), no REDIS_URL or token, SENTIBOT_HOME ``home``."""
    import pexpect

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN", "IMDB_DATA")}
    env.update(SENTIBOT_HOME=str(home), LOG_LEVEL="WARNING", TERM="dumb", **extra)
    return pexpect.spawn(sys.executable, ["-m", "sentibot.cli", "up"], env=env, encoding="utf-8", timeout=120)


def sigterm_leaves_no_child(child) -> None:
    """SIGTERM `up` (as Docker, systemd and `kill` do): it exits, and every process it started is gone."""
    import pexpect

    started = children_of(child.pid)
    assert len(started) >= 4, started  # redis, a scoring worker, the file worker, the trainer
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=90)
    child.wait()
    assert [pid for pid in started if alive(pid)] == []


def end_up(child) -> None:
    """Whatever happened in the test, `up` and every process it started are gone afterwards (a test that
    failed half-way must not leave its Redis and workers running)."""
    started = children_of(child.pid) if child.isalive() else set()
    child.close(force=True)
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
