"""1,000 hostile uploads through the real bot, a scoring and a file worker: every upload answered, and
other users' verdicts meanwhile.

Run: python bench/upload_fuzz.py [--examples 1000]
Starts its own redis-server, workers, bot and Bot API stand-in (tests/live_stack.py) and stops them by
PID. Uses the newest bundle in SENTIBOT_HOME/bundles, or an untrained tutorial model. The uploads come
from the same hypothesis strategy as tests/test_upload_fuzz.py. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_stack import LiveStack, any_bundle, send_upload_fuzz  # noqa: E402

SAMPLE = ["a superb touching film", "an awful boring mess"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000)
    args = parser.parse_args()
    home = Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser()
    live = LiveStack(home=Path(tempfile.mkdtemp()), bundle=any_bundle(home, SAMPLE), file_workers=1).start()
    started = time.perf_counter()
    try:
        answers, probes = send_upload_fuzz(live, args.examples, first_user=2_000_000)
        bot_tracebacks = (live.home / "bot.log").read_text().count("Traceback")
    finally:
        live.stop()
    kinds = Counter("results" if a == "results" else a.split(":")[0][:60] for a in answers.values())
    figures = {
        "uploads": len(answers),
        "answered": sum(1 for a in answers.values() if a),
        "generic_errors": sum(1 for a in answers.values() if "went wrong" in a),
        "bot_tracebacks": bot_tracebacks,
        "probe_verdicts": len(probes),
        "probe_p50_s": round(statistics.median(probes), 3) if probes else None,
        "probe_max_s": round(max(probes), 3) if probes else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print("command: python bench/upload_fuzz.py " + " ".join(sys.argv[1:]))
    for key, value in figures.items():
        print(f"{key:>16}: {value}")
    for kind, count in kinds.most_common(8):
        print(f"{count:>6}  {kind}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
