"""Redis that cannot be filled into evicting queues, and `sentibot up`'s private Redis behind a password
(issue 21.3, Redis part, and 21.8)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
import yaml

from common.settings import Settings
from sentibot.redis_server import RedisServer, free_port
from worker.client import submit_review
from worker.connection import connect
from worker.errors import QueueUnavailable
from worker.queues import SCORE, get_queue
from worker.registry import CURRENT

pytestmark = pytest.mark.slow  # starts Redis and `sentibot up`

ROOT = Path(__file__).resolve().parents[1]


def test_a_free_port_is_never_one_an_outgoing_connection_could_be_given():
    """The private Redis, the metrics and the dashboard are given ports below the kernel's ephemeral range:
    a port from that range (what binding port 0 returns) can be taken by any client's connection before the
    server binds it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(1024 <= port < low for port in ports) and len(ports) > 40  # random, so side-by-side picks differ
    server = RedisServer(port=ports.pop()).start()
    try:
        assert connect(server.url).ping()
    finally:
        server.stop()


def test_a_full_redis_refuses_new_reviews_with_a_sentence_and_evicts_nothing():
    """Filled to its maxmemory: a new review gets "the queue is full", the queued review and the live
    pointer are still there (noeviction)."""
    server = RedisServer(maxmemory_mb=4).start()
    try:
        client = connect(server.url)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        waiting = submit_review(client, "a superb film")
        client.set(CURRENT, "20990101-000000-abcdef")
        for size in (1_000_000, 10_000, 100):  # fill every last byte: big values, then smaller ones
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                for i in range(10_000):  # 10 GB if nothing stopped it
                    client.set(f"filler:{size}:{i}", b"x" * size)
        with pytest.raises(QueueUnavailable, match="The queue is full right now"):
            submit_review(client, "another superb film")
        assert get_queue(client, SCORE).job_ids == [waiting.id]
        assert client.get(CURRENT) == b"20990101-000000-abcdef"
    finally:
        server.stop()


def test_compose_redis_has_a_memory_cap_and_never_evicts():
    """The compose Redis is started with --maxmemory and --maxmemory-policy noeviction."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--maxmemory") + 1].endswith("mb")


def test_sentibot_ups_private_redis_needs_the_password_it_hands_its_children(tmp_path, bundle_path):
    """While `sentibot up` runs: Redis refuses a client without the password; the password is in a 0600
    file and on no process's command line; the workers have it (a review gets its verdict); the cap is set."""
    home = tmp_path / "home"
    (home / "bundles").mkdir(parents=True)
    (home / "bundles" / bundle_path.name).write_bytes(bundle_path.read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN", "IMDB_DATA")}
    env.update(SENTIBOT_HOME=str(home), LOG_LEVEL="WARNING")
    up = subprocess.Popen(
        [sys.executable, "-m", "sentibot.cli", "up"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    verdict = threading.Event()

    def read() -> None:
        for line in up.stdout:
            lines.append(line)
            if "Positive (" in line:
                verdict.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        up.stdin.write("superb touching film\n")
        up.stdin.flush()
        assert verdict.wait(150), "".join(lines)[-3000:]
        port = int(re.search(r"private Redis at redis://127.0.0.1:(\d+)", "".join(lines))[1])
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port, socket_connect_timeout=2).ping()
        conf = home / "redis" / "sentibot-redis.conf"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        password = conf.read_text().split()[1]
        assert len(password) >= 24 and password not in "".join(lines)
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                assert password.encode() not in cmdline.read_bytes(), cmdline
            except OSError:
                continue  # the process ended meanwhile
        own = redis.Redis(port=port, password=password)
        assert own.config_get("maxmemory")["maxmemory"] == str(Settings().redis_maxmemory_mb * 2**20)
        assert own.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    finally:
        up.stdin.write("/quit\n")
        up.stdin.flush()
        up.wait(60)
    assert up.returncode == 0
