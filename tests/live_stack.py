"""The whole service as real processes for end-to-end tests and benches: a redis-server, scoring
workers, the bot, and the Bot API stand-in playing the users. Everything it starts it stops, by PID."""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sentibot.processes import stop_all, wait_for
from sentibot.redis_server import RedisServer
from tests.processes import sentibot
from tests.telegram_standin import TelegramStandIn
from worker.connection import connect
from worker.registry import ModelRegistry

TOKEN = "123456:LIVE-stack-token"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LiveStack:
    """Start with :meth:`start`, stop with :meth:`stop`; ``home`` holds the logs."""

    home: Path
    bundle: bytes
    score_timeout: int = 8
    workers: int = 1
    file_workers: int = 0  # workers on the files queue (uploads), started beside the scoring ones
    redis: RedisServer = field(default_factory=RedisServer)
    standin: TelegramStandIn = field(default_factory=lambda: TelegramStandIn(token=TOKEN))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.standin.api_url,
            "TELEGRAM_FILE_URL": self.standin.api_url.replace("/bot", "/file/bot"),
            "REDIS_URL": self.redis.url,
            "SENTIBOT_HOME": str(self.home),
            "SCORE_TIMEOUT": str(self.score_timeout),
            "RATE_LIMIT_PER_MINUTE": "0",
            "TRAIN_ON_FIRST_START": "no",
            "LOG_LEVEL": "WARNING",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }

    def start(self) -> LiveStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        self.standin.start()
        ModelRegistry(connect(self.redis.url)).add(self.bundle, promote=True)
        for i in range(self.workers):
            self.start_worker(f"worker-{i}")
        for i in range(self.file_workers):
            self.start_worker(f"files-{i}", queues="files")
        self.processes["bot"] = self._spawn(["bot"], "bot")
        self.standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=60)
        for i in range(self.workers):
            self.wait_worker(f"worker-{i}")
        for i in range(self.file_workers):
            self.wait_worker(f"files-{i}")
        return self

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen:
        return sentibot(argv, self.env, self.home / f"{log}.log")

    def start_worker(self, name: str, queues: str = "score") -> subprocess.Popen:
        process = self._spawn(["worker", "--queues", queues, "--name", name], name)
        self.processes[name] = process
        return process

    def wait_worker(self, name: str, timeout: float = 90) -> None:
        connection = connect(self.redis.url)
        wait_for(lambda: connection.exists(f"sentibot:alive:{name}"), timeout)

    def stop(self) -> None:
        stop_all(self.processes.values())
        self.standin.stop()
        self.redis.stop()


def any_bundle(home: Path, sample: list[str]) -> bytes:
    """The newest bundle in home/bundles, or an untrained tutorial model (same compute) in a bundle."""
    from model import bundle
    from model.architectures import build
    from model.encoding import TextEncoder, tokenize
    from model.errors import ModelNotFound

    try:
        return bundle.newest(home / "bundles").read_bytes()
    except ModelNotFound:
        words = tuple(sorted({w for s in sample for w in tokenize(s)}))
        made = bundle.Bundle(
            build("tutorial"), TextEncoder(words), {"version": bundle.new_version(), "arch": "tutorial"}
        )
        return bundle.to_bytes(made)


def replies_by_chat(standin: TelegramStandIn) -> dict[int, list[str]]:
    """The texts of the bot's messages so far, per chat (one pass, cheap to poll)."""
    by_chat: dict[int, list[str]] = {}
    for sent in standin.calls(method="sendMessage"):
        by_chat.setdefault(int(sent.params["chat_id"]), []).append(sent.params["text"])
    return by_chat


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# What users may send: any Unicode Telegram delivers, control characters and RTL marks included,
# lone surrogates too (JSON can carry them), up to Telegram's 4,096 characters.
HOSTILE = st.sampled_from(["\u200f", "\u202e", "\u0000", "\ufeff", "\ud83d", "\udc00", "😀", "👍🏽", "\n", "\t"])
MESSAGES = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=200),
    st.lists(st.one_of(HOSTILE, st.characters()), max_size=50).map("".join),
    st.integers(4000, 4096).map(lambda n: ("😀 a superb film " * 300)[:n]),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Mn"]), min_size=1, max_size=100),
).filter(lambda text: text.strip() != "")  # Telegram delivers no empty messages


def send_fuzz(live: LiveStack, examples: int, first_user: int, timeout: float = 30) -> list[int]:
    """Send ``examples`` MESSAGES (plus the pinned cases), each from a new user, each waited for until the
    bot has answered it; return the users' chat ids."""
    users = itertools.count(first_user)
    chats: list[int] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(MESSAGES)
    @example("/\ud83d\udc00 a command with lone surrogates")  # found by bench/fuzz.py: echoed back, it broke the reply
    @example("/" + "x" * 4095)
    def send(text: str) -> None:
        user = next(users)
        live.standin.send_text(user, text)
        chats.append(user)
        live.standin.wait_for(lambda s: s.calls(user, "sendMessage"), timeout=timeout)

    send()
    return chats


# What users may upload as a .csv or .txt: random bytes, fields past csv's limit, odd quoting, NULs and
# BOMs, text in other encodings, and the crafted file that froze the bot for 73 s (issue 21.1).
QUOTING = st.lists(st.sampled_from(['"', ",", "\n", "\r", ";", "\t", "'", "\\", "a", " ", "\x00", "é"]), max_size=400)
UPLOADS = st.tuples(
    st.sampled_from(["upload.csv", "upload.txt", "UPLOAD.CSV"]),
    st.one_of(
        st.binary(max_size=4000),
        QUOTING.map(lambda chars: "".join(chars).encode("utf-8", "surrogatepass")),
        st.integers(131_073, 300_000).map(lambda n: b"review\n" + b"x" * n + b"\n"),  # a field past csv's limit
        st.text(max_size=300).map(lambda t: ("review\n" + t).encode("utf-16")),
        st.text(max_size=300).map(lambda t: ("\ufeffreview\n" + t).encode("utf-8", "surrogatepass")),
        st.text(alphabet="éàüß ", max_size=300).map(lambda t: ("review\n" + t).encode("latin-1")),
        st.integers(1, 32).map(lambda k: b',"' * 1024 * k),
        st.lists(st.text(max_size=60), max_size=50).map(lambda rows: "\n".join(rows).encode("utf-8", "surrogatepass")),
    ),
)


def answered_upload(standin: TelegramStandIn, user: int) -> str | None:
    """How the bot answered a user's upload, once it has: "results" (a scored CSV) or its sentence."""
    if standin.calls(user, "sendDocument"):
        return "results"
    texts = [t for t in standin.texts(user) if not t.startswith(("Scoring your file", "Reading your file"))]
    return texts[-1] if texts else None


def send_upload_fuzz(
    live: LiveStack, examples: int, first_user: int, probe_every: int = 10, timeout: float = 60
) -> tuple[dict[int, str], list[float]]:
    """Upload ``examples`` files (plus the pinned cases), each from a new user, each waited for until the
    bot has answered it; every ``probe_every`` uploads another user sends a review at once and the seconds
    to its verdict are kept. Returns ({user: answer}, [probe seconds])."""
    import time

    users = itertools.count(first_user)
    answers: dict[int, str] = {}
    probes: list[float] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(UPLOADS)
    @example(("evil.csv", b',"' * 32 * 1024))
    @example(("big.csv", b"review\n" + b"y" * 200_000 + b"\n"))
    def send(upload: tuple[str, bytes]) -> None:
        user = next(users)
        live.standin.send_document(user, *upload)
        if len(answers) % probe_every == 0:
            probe = next(users)
            sent = time.monotonic()
            live.standin.send_text(probe, "a superb touching film")
            live.standin.wait_for(lambda s: s.calls(probe, "sendMessage"), timeout=timeout)
            probes.append(time.monotonic() - sent)
        answers[user] = live.standin.wait_for(lambda s: answered_upload(s, user), timeout=timeout)

    send()
    return answers, probes
