"""Soak: 50,000 reviews through the stand-in and the real bot, a scoring worker SIGKILLed every 10,000.

Run: python bench/soak.py [--messages 50000] [--kill-every 10000] [--users 500]
Starts its own redis-server, one scoring worker, the bot and the Bot API stand-in
(tests/live_stack.py); stops them by PID. Messages go out in waves of --users distinct users (one
message each, so the rate limit never applies), each wave waited for. At every --kill-every mark it
prints messages answered, verdicts, and the bot's and the worker's RSS, then SIGKILLs the worker and
starts a new one: reviews it held are re-run by the new worker (reaper) or answered "could not get
a verdict" within SCORE_TIMEOUT. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentibot.processes import wait_for  # noqa: E402
from tests.live_stack import LiveStack, any_bundle, replies_by_chat, rss_mb  # noqa: E402

SAMPLE = [
    "An absolute joy from start to finish, the cast is wonderful.",
    "Two hours of my life I will never get back. Dreadful script.",
    "Not bad at all, though the ending dragged a little.",
    "I wanted to love it but the pacing killed every scene.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--kill-every", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=500)
    args = parser.parse_args()
    home = Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser()
    live = LiveStack(home=Path(tempfile.mkdtemp()), bundle=any_bundle(home, SAMPLE)).start()
    marks = []
    sent = answered = verdicts = 0
    worker_index = 0
    started = time.perf_counter()
    try:
        while sent < args.messages:
            wave = []
            for i in range(min(args.users, args.messages - sent)):
                wave.append(live.standin.send_text(10_000 + i, SAMPLE[(sent + i) % len(SAMPLE)]))
            sent += len(wave)
            ids = {u["message"]["chat"]["id"] for u in wave}
            wait_for(lambda ids=ids: ids <= replies_by_chat(live.standin).keys(), live.score_timeout + 30, 0.2)
            replies = replies_by_chat(live.standin)
            for chat in ids:
                answered += 1
                verdicts += replies[chat][-1].startswith(("Positive", "Negative", "Mixed"))
            live.standin.sent.clear()  # one wave at a time: the stand-in's record would otherwise grow without bound
            if sent % args.kill_every == 0:
                worker = live.processes[f"worker-{worker_index}"]
                mark = {
                    "messages": sent,
                    "answered": answered,
                    "verdicts": verdicts,
                    "bot_rss_mb": round(rss_mb(live.processes["bot"].pid), 1),
                    "worker_rss_mb": round(rss_mb(worker.pid), 1),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                marks.append(mark)
                print(json.dumps(mark), flush=True)
                if sent < args.messages:
                    os.kill(worker.pid, signal.SIGKILL)
                    worker.wait()
                    worker_index += 1
                    live.start_worker(f"worker-{worker_index}")
                    live.wait_worker(f"worker-{worker_index}")
    finally:
        live.stop()
    growth = {
        key: round(marks[-1][key] - marks[0][key], 1) for key in ("bot_rss_mb", "worker_rss_mb") if len(marks) > 1
    }
    figures = {"messages": sent, "answered": answered, "verdicts": verdicts, "rss_growth_after_first_mark_mb": growth}
    print("command: python bench/soak.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
