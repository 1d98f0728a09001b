"""10,000 random Unicode messages through the real bot and a real worker: how many were answered.

Run: python bench/fuzz.py [--examples 10000]
Starts its own redis-server, worker, bot and Bot API stand-in (tests/live_stack.py) and stops them
by PID. Uses the newest bundle in SENTIBOT_HOME/bundles, or an untrained tutorial model. The
messages come from the same hypothesis strategy as tests/test_fuzz.py. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_stack import LiveStack, any_bundle, send_fuzz  # noqa: E402

SAMPLE = ["a superb touching film", "an awful boring mess"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    home = Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser()
    live = LiveStack(home=Path(tempfile.mkdtemp()), bundle=any_bundle(home, SAMPLE)).start()
    started = time.perf_counter()
    try:
        sent = send_fuzz(live, args.examples, first_user=1_000_000)
        replies = {user: len(live.standin.calls(user, "sendMessage")) for user in sent}
        log = (live.home / "bot.log").read_text()
    finally:
        live.stop()
    figures = {
        "messages": len(sent),
        "answered": sum(1 for n in replies.values() if n >= 1),
        "answered_once": sum(1 for n in replies.values() if n == 1),
        "handler_errors_logged": log.count("Traceback"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print("command: python bench/fuzz.py " + " ".join(sys.argv[1:]))
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
