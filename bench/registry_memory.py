"""Redis memory as big bundles go live one after another, the way a training job stores them.

Run: python bench/registry_memory.py BUNDLE [--retrains 5]
Starts its own redis-server; stores BUNDLE under a new version id per "retrain" (registry.add and
promote, exactly what the training job does after training) and prints Redis's used_memory and the
bundles still holding bytes after each. BUNDLE: a `.sentibot` file, e.g. from
`python bench/train_full.py --arch minilm --out DIR`. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from model import bundle
    from sentibot.redis_server import RedisServer
    from worker.connection import connect
    from worker.registry import STORE_BUDGET_BYTES, ModelRegistry

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--retrains", type=int, default=5)
    args = parser.parse_args()
    loaded = bundle.load(args.bundle)
    server = RedisServer().start()
    try:
        connection = connect(server.url)
        registry = ModelRegistry(connection)
        rows = []
        for retrain in range(1, args.retrains + 1):
            loaded.meta = {**loaded.meta, "version": bundle.new_version()}
            registry.add(bundle.to_bytes(loaded), promote=True)
            kept = [r["version"] for r in registry.versions() if not r.get("pruned")]
            used = int(connection.info("memory")["used_memory"])
            rows.append({"retrain": retrain, "used_memory_mb": round(used / 2**20, 1), "bundles_kept": len(kept)})
            print(f"after retrain {retrain}: Redis used_memory {used / 2**20:7.1f} MB, bundles with bytes {len(kept)}")
        size = len(bundle.to_bytes(loaded))
        print(
            json.dumps(
                {
                    "bundle_mb": round(size / 1e6, 1),
                    "budget_mb": STORE_BUDGET_BYTES // 2**20,
                    "after": rows,
                }
            )
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
