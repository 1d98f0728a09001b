"""Time to the first real verdict on an empty home: `sentibot up` (the terminal chat) from its start.

    python bench/first_verdict.py --data ../shared/datasets/aclImdb_v1_labeled.tar.gz

It starts `sentibot up` with a new SENTIBOT_HOME (no model, no cached data), types a review as soon as
the chat opens and prints the seconds to its verdict, with each `[up]` line's time, then stops it with
SIGTERM (the background training of the default is cut short; its time is `sentibot train`'s). For
`docker compose up`, see `bench/compose_e2e.py --first-verdict-only`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time

import pexpect

VERDICT = re.compile(r"(Positive|Negative|Mixed / not sure) \(\d+%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="aclImdb folder or .tar.gz")
    parser.add_argument("--arch", default="", help="DEFAULT_ARCH (default: the project's default)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="sentibot-first-verdict-")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TELEGRAM_TOKEN")}
    env.update(SENTIBOT_HOME=home, IMDB_DATA=args.data, TERM="dumb", TF_CPP_MIN_LOG_LEVEL="3")
    if args.arch:
        env["DEFAULT_ARCH"] = args.arch
    started = time.monotonic()
    up = pexpect.spawn(sys.executable, ["-m", "sentibot.cli", "up"], env=env, encoding="utf-8", timeout=900)
    figures: dict[str, float] = {}
    try:
        while True:  # the [up] lines until the chat opens, each with its time
            which = up.expect([r"\[up\] [^\r\n]*", "review> "])
            if which == 1:
                break
            print(f"{time.monotonic() - started:7.1f} s  {up.after}", flush=True)
        figures["chat_open_s"] = round(time.monotonic() - started, 1)
        up.sendline("a superb touching film with brilliant acting")
        up.expect(VERDICT.pattern)
        figures["first_verdict_s"] = round(time.monotonic() - started, 1)
        print(f"{figures['first_verdict_s']:7.1f} s  first verdict: {up.after}", flush=True)
        up.expect("review> ")
        up.sendline("/status")
        up.expect("review> ")
        print("/status:" + up.before.split("/status", 1)[-1].rstrip(), flush=True)
    finally:
        up.kill(signal.SIGTERM)
        up.expect(pexpect.EOF, timeout=120)
        up.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
