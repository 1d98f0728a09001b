"""The docker compose stack, built from this working tree and driven as a user and an admin would.

Run through `bench/compose_e2e.sh` (or `make compose-test`) on a machine with a Docker engine. It
builds the images, starts redis, bot, worker and trainer plus the Bot API stand-in
(bench/compose/e2e.yml) with a small generated aclImdb tarball for the trainer, then: /start, a
review before any model (the first-start training is running), the first verdict once it is live,
/retrain with progress and chart, `--scale worker=3` (all healthy), `docker compose restart redis`
(the bot answers again within 10 s), and `docker compose stop`. It prints one line of figures and
removes the stack (volumes included) at the end.

``--first-verdict-only --data TARBALL`` measures issue 20's figure instead: the real aclImdb tarball
mounted, the project's default architecture (the trainer's first start: nbsvm, then the default in the
background), the seconds from `docker compose up` (image built) to the first verdict, then down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROJECT = "sentibot-e2e"
TOKEN = "123456:E2E-token"
ADMIN, USER = 42, 7
PORT = int(os.environ.get("E2E_STANDIN_PORT", "18081"))


def compose(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    argv = ["docker", "compose", "-p", PROJECT, "-f", "docker-compose.yml", "-f", "bench/compose/e2e.yml", *args]
    return subprocess.run(argv, cwd=ROOT, check=check, text=True, capture_output=capture)


def standin(path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/test/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def texts(chat: int) -> list[str]:
    return [c["params"]["text"] for c in standin(f"calls?chat_id={chat}") if "text" in c["params"]]


def wait(what: str, predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"FAILED: {what} (waited {timeout:.0f} s)")


def say(user: int, text: str, needle: str = "", timeout: float = 30) -> str:
    """Send as a user; wait for the bot's next message to that chat containing needle (any, by default)."""
    before = len(texts(user))
    standin("send", {"user_id": user, "text": text})
    return wait(f"{text!r} → {needle!r}", lambda: next((t for t in texts(user)[before:] if needle in t), None), timeout)


def is_verdict(text: str) -> bool:
    return text.startswith(("Positive", "Negative", "Mixed"))


def reply_containing(needle: str, review: str = "a superb touching film") -> str | None:
    """The bot's answer to a review if it contains needle, else None."""
    answer = say(USER, review, timeout=30)
    return answer if needle in answer else None


def verdict_for(review: str, timeout: float = 30) -> str | None:
    """The bot's answer to a review if it is a verdict, else None."""
    answer = say(USER, review, timeout=timeout)
    return answer if is_verdict(answer) else None


def health() -> dict[str, list[str]]:
    """Service → health of each of its containers."""
    out = compose("ps", "--format", "json", capture=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):
        rows = rows[0]
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["Service"], []).append(row.get("Health") or row.get("State", ""))
    return found


def all_healthy(services: dict[str, int]) -> bool:
    states = health()
    return all(states.get(name, []).count("healthy") == count for name, count in services.items())


def make_data(directory: Path) -> None:
    from tests.factories import make_aclimdb, make_tarball

    make_tarball(make_aclimdb(directory / "src", per_class=300), directory / "aclImdb_v1.tar.gz")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-verdict-only", action="store_true", help="stop after the first verdict")
    parser.add_argument("--data", type=Path, help="a real aclImdb .tar.gz for the trainer (default: generated)")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    if args.data:
        data, name = args.data.resolve().parent, args.data.name
        arch = os.environ.get("DEFAULT_ARCH", "blend")
    else:
        data, name, arch = Path(tempfile.mkdtemp(prefix="sentibot-e2e-")), "aclImdb_v1.tar.gz", "tutorial"
        make_data(data)
        os.chmod(data, 0o755)
    env = {"TELEGRAM_TOKEN": TOKEN, "ADMIN_IDS": str(ADMIN), "REDIS_PASSWORD": "e2e-" + os.urandom(8).hex()}
    env |= {"E2E_DATA_DIR": str(data), "E2E_DATA_FILE": name, "E2E_DEFAULT_ARCH": arch, "E2E_STANDIN_PORT": str(PORT)}
    os.environ.update(env)
    try:
        started = time.monotonic()
        compose("build")
        figures["build_s"] = round(time.monotonic() - started, 1)
        size = subprocess.run(
            ["docker", "image", "inspect", "sentibot:latest", "--format", "{{.Size}}"], capture_output=True, text=True
        ).stdout
        figures["image_mb"] = round(int(size) / 1e6)
        up_at = time.monotonic()
        compose("up", "-d")
        wait("the stand-in answers", lambda: standin("calls") is not None, 60)
        print("stack up; /start", flush=True)
        say(USER, "/start", "movie review", 60)
        # The trainer loads TensorFlow (seconds), then starts the first-start training.
        first = wait(
            "the bot reporting the first-start training", lambda: reply_containing("first model is training"), 180, 3
        )
        print(f"before any model: {first!r}", flush=True)
        verdict = wait(
            "the first verdict (first-start training)", lambda: verdict_for("a superb touching film"), 600, 5
        )
        figures["first_verdict_s"] = round(time.monotonic() - up_at, 1)
        print(f"first verdict: {verdict!r}", flush=True)
        if args.first_verdict_only:
            print(say(USER, "/status", "Workers alive", 30), flush=True)
            print(json.dumps(figures))
            return
        wait("bot, worker and trainer healthy", lambda: all_healthy({"bot": 1, "worker": 1, "trainer": 1}), 120, 2)
        say(ADMIN, "/retrain arch=tutorial epochs=2 batch_size=64", "Training queued", 30)
        done = wait(
            "the retrain report", lambda: next((t for t in texts(ADMIN) if "Training finished" in t), None), 300, 2
        )
        edits = standin(f"calls?chat_id={ADMIN}&method=editMessageText")
        photos = standin(f"calls?chat_id={ADMIN}&method=sendPhoto")
        assert edits and photos and photos[-1]["files"].get("photo", 0) > 1000, (len(edits), photos)
        print(
            f"retrain: {len(edits)} progress edits, chart {photos[-1]['files']['photo']} bytes; {done.splitlines()[0]}"
        )
        compose("up", "-d", "--scale", "worker=3", "--no-recreate")
        wait("3 workers healthy", lambda: all_healthy({"bot": 1, "worker": 3, "trainer": 1}), 180, 2)
        print("scaled to 3 workers, all healthy", flush=True)
        compose("restart", "redis")
        restarted = time.monotonic()
        wait(
            "a verdict after the Redis restart",
            lambda: verdict_for("an awful boring mess", timeout=10),
            60,
            interval=1,
        )
        figures["verdict_after_redis_restart_s"] = round(time.monotonic() - restarted, 1)
        stop_at = time.monotonic()
        compose("stop")
        figures["stop_s"] = round(time.monotonic() - stop_at, 1)
    except BaseException:
        print(compose("logs", "--tail", "40", "trainer", "bot", check=False, capture=True).stdout[-6000:])
        raise
    finally:
        compose("down", "-v", "--remove-orphans", check=False, capture=True)
    print("compose e2e: " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
