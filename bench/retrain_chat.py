"""A full `/retrain` of an architecture through the real bot, trainer and stand-in: how long it takes and
how often the progress message moves.

Run: python bench/retrain_chat.py [--arch minilm] [--data PATH]
Starts redis-server, a scoring worker, a training worker, the bot and the Bot API stand-in (stopped
by PID afterwards); an admin sends `/retrain arch=NAME`. Prints the seconds to the final report, the
longest gap between two edits of the progress message, the report itself, and whether a review is
then answered by the new model. SENTIBOT_HOME's encoded-data cache is used when it has the data
(a later retrain), so run it twice to see the first and a later one. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_DATA = ROOT.parent / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
ADMIN = 1


def main() -> None:
    from tests.live_stack import LiveStack, any_bundle

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="minilm")
    parser.add_argument("--data", default=os.environ.get("IMDB_DATA") or str(SHARED_DATA))
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    source_home = Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser()
    home = Path(tempfile.mkdtemp())
    if (source_home / "cache").is_dir():  # the encoded data, as a trainer that has run before has it
        shutil.copytree(source_home / "cache", home / "cache")
    os.environ.update({"ADMIN_IDS": str(ADMIN), "IMDB_DATA": args.data, "PROMOTE_MIN_ACCURACY": "0.5"})
    live = LiveStack(home=home, bundle=any_bundle(source_home, ["a fine film"])).start()
    try:
        trainer = live._spawn(["worker", "--queues", "train", "--name", "trainer"], "trainer")
        live.processes["trainer"] = trainer
        live.wait_worker("trainer")
        standin = live.standin
        started = time.monotonic()
        standin.send_text(ADMIN, f"/retrain arch={args.arch}")
        edits_seen, moved_at, final = 0, [started], None
        while time.monotonic() - started < args.timeout:
            edits = standin.calls(ADMIN, "editMessageText")
            if len(edits) > edits_seen:
                edits_seen = len(edits)
                moved_at.append(time.monotonic())
            final = next((t for t in standin.texts(ADMIN) if t.startswith("Training finished")), None)
            if final or any("failed" in t for t in standin.texts(ADMIN)):
                break
            time.sleep(1)
        total = time.monotonic() - started
        gaps = [b - a for a, b in itertools.pairwise(moved_at)]
        standin.send_text(7, "It was not bad at all.")
        verdict = standin.wait_text(7, "%", timeout=60)
        print(f"command: python bench/retrain_chat.py {' '.join(sys.argv[1:])}".rstrip())
        print(final or standin.texts(ADMIN)[-1])
        print(f"verdict afterwards: {verdict!r}")
        print(
            json.dumps(
                {
                    "arch": args.arch,
                    "seconds_to_report": round(total, 1),
                    "progress_edits": edits_seen,
                    "longest_gap_s": round(max(gaps), 1) if gaps else None,
                    "finished": final is not None,
                }
            )
        )
    finally:
        live.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
