"""Issue 23's case through the real bot: a 2,000-line CSV of one-line reviews with the default model.

Run: python bench/file_chat.py [--rows 2000] [--bundle BUNDLE] [--data aclImdb_v1_labeled.tar.gz]

Starts Redis, the Bot API stand-in, the bot, two scoring workers and one file worker (and stops them by
PID), with a `minilm` bundle live (``--bundle``, else untrained with its pretrained encoder: the same
compute as a trained one). A user uploads ``id,review`` with ``--rows`` IMDB sentences; another user
sends a review every 2 s meanwhile. Prints the seconds to the results CSV, the progress messages the
uploader saw, and the other user's slowest verdict. The last line is one JSON object.
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
sys.path.insert(0, str(ROOT / "bench"))

from file_throughput import SHARED_DATA, imdb_rows, untrained_bundle  # noqa: E402

from tests.live_stack import LiveStack  # noqa: E402

UPLOADER, CHATTER = 501, 502


def main() -> None:
    """Upload, chat meanwhile, print what the users got."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--bundle", type=Path, help="a minilm bundle (default: untrained, same compute)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    args = parser.parse_args()
    one_liners, _ = imdb_rows(args.data, 0, args.rows)
    data = args.bundle.read_bytes() if args.bundle else untrained_bundle("minilm", one_liners)
    rows = "\n".join(f'{i},"{text.replace(chr(34), chr(39))}"' for i, text in enumerate(one_liners))
    stack = LiveStack(Path(tempfile.mkdtemp()), data, workers=2, file_workers=1).start()
    figures: dict[str, object] = {"rows": args.rows, "bundle": str(args.bundle or "untrained minilm")}
    try:
        started = time.monotonic()
        stack.standin.send_document(UPLOADER, "reviews.csv", ("id,review\n" + rows).encode())
        slowest, asked = 0.0, 0
        while not stack.standin.calls(UPLOADER, "sendDocument"):
            if any("couldn't score" in t for t in stack.standin.texts(UPLOADER)) or time.monotonic() - started > 900:
                break
            sent = time.monotonic()
            stack.standin.send_text(CHATTER, f"a superb touching film, take {asked}")
            stack.standin.wait_for(lambda s, n=asked + 1: len(s.calls(CHATTER, "sendMessage")) >= n, timeout=30)
            slowest, asked = max(slowest, time.monotonic() - sent), asked + 1
            time.sleep(2)
        documents = stack.standin.calls(UPLOADER, "sendDocument")
        figures["results_csv_after_s"] = round(time.monotonic() - started, 1) if documents else None
        figures["caption"] = documents[0].params.get("caption") if documents else None
        figures["uploader_saw"] = stack.standin.texts(UPLOADER)
        figures["other_user_verdicts"] = asked
        figures["other_user_slowest_verdict_s"] = round(slowest, 2)
    finally:
        stack.stop()
    print("command: python bench/file_chat.py " + " ".join(sys.argv[1:]))
    for key, value in figures.items():
        print(f"{key:>30}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
