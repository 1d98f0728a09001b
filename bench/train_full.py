"""Full IMDB, tutorial model, 5 epochs: accuracy and where the time goes.

Run: python bench/train_full.py [--data PATH] [--arch tutorial]
(PATH defaults to IMDB_DATA, then ../shared/datasets/aclImdb_v1_labeled.tar.gz.)
Run it twice: the first run also fills the encoded-data cache.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"


def main() -> None:
    """Train once and print the split of the wall time."""
    from common.settings import Settings
    from model import recipes, train
    from model.data import load_imdb
    from model.progress import TrainingProgress

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("IMDB_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--arch", default="tutorial")
    parser.add_argument("--epochs", type=int, help="default: the architecture's")
    parser.add_argument("--out", type=Path, help="keep the bundle in this folder (default: thrown away)")
    args = parser.parse_args()
    settings = Settings.from_env()

    times: dict[str, float] = {}
    started = time.perf_counter()
    plan = recipes.plan(args.arch, args.epochs)
    data = load_imdb(args.data, settings.cache_dir, recipes.recipe(args.arch), plan.sentences)
    times["load_encode"] = time.perf_counter() - started
    mark = time.perf_counter()
    model = train.build_model(args.arch, data)
    recipe = recipes.recipe(args.arch)
    history, _ = train.fit(model, data, plan, TrainingProgress(), verbose=2)
    times["fit"] = time.perf_counter() - mark
    mark = time.perf_counter()
    loss, accuracy = train.evaluate(model, data, size=recipe.test_sample)
    times["evaluate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    outcome = train.TrainOutcome(
        model,
        args.arch,
        plan.epochs,
        plan.batch_size,
        train.SEED,
        history,
        False,
        test_accuracy=accuracy,
        test_loss=loss,
        seconds={"fit": round(times["fit"], 3)},
        test_reviews=recipe.test_sample or len(data.y_test),
    )
    with tempfile.TemporaryDirectory() as tmp:
        _, path = train.save_bundle(outcome, data, args.out or Path(tmp))
        size = path.stat().st_size / 1e6
    times["save"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    print(f"command: python bench/train_full.py --data {args.data} --arch {args.arch}")
    print(f"bundle: {path}" if args.out else "bundle: not kept (--out DIR keeps it)")
    reviews = f"{outcome.test_reviews:,} test reviews"
    print(f"test accuracy {accuracy:.4f} on {reviews}  params {model.count_params():,}  bundle {size:.1f} MB")
    for key, value in times.items():
        print(f"{key:>12}: {value:7.2f} s")
    print(f"total / fit: {times['total'] / times['fit']:.2f}")
    print(
        json.dumps(
            {
                "test_accuracy": accuracy,
                **{f"{k}_s": round(v, 3) for k, v in times.items()},
                "total_over_fit": round(times["total"] / times["fit"], 3),
                "bundle_mb": round(size, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
