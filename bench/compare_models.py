"""Train each architecture on full IMDB and compare them on IMDB test and on one-sentence reviews.

    python bench/compare_models.py [--data PATH] [--arch NAME[+sentences] ...] [--bundle FILE ...] [--json FILE]

Prints one row per architecture: parameters, bundle size, seconds to encode the data (cached after
the first run) and to fit, IMDB test accuracy, accuracy on the short dev split and on the short test
split of model/short_reviews.tsv (with its 95% interval), calibration (ECE on IMDB test and short
dev, before → after the temperature training fitted on held-out training examples where the recipe
leaves some out, T = 1 otherwise; serving uses it only if it lowered the dev ECE), and the median time to
score one review alone. `NAME+sentences` / `NAME-sentences` overrides the recipe's sentence-examples
switch; `--bundle` measures a bundle already trained (e.g. by bench/train_full.py --out) instead of
training again. Choose with the dev columns; the test columns are for reporting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
COLUMNS = (
    "arch",
    "params",
    "bundle MB",
    "train s",
    "IMDB acc",
    "short dev",
    "short test (95% CI)",
    "ECE IMDB",
    "ECE dev",
    "T",
    "ms/review",
)


def parse_variant(spec: str) -> tuple[str, bool | None]:
    """'glove+sentences' → ('glove', True); 'fasttext' → ('fasttext', None: the recipe decides)."""
    for suffix, value in (("+sentences", True), ("-sentences", False)):
        if spec.endswith(suffix):
            return spec[: -len(suffix)], value
    return spec, None


def measure(spec: str, data_path: str, cache_dir: Path, imdb_sample: int) -> dict:
    """Encode, train, then score and time one architecture."""
    from model import recipes, train
    from model.data import load_imdb

    name, sentences = parse_variant(spec)
    plan = recipes.plan(name, sentences=sentences)
    started = time.perf_counter()
    data = load_imdb(data_path, cache_dir, recipes.recipe(name), plan.sentences)
    encode_s = time.perf_counter() - started
    outcome = train.train(data, plan, verbose=0)
    made = train.make_bundle(outcome, data)
    row = score(made, data, imdb_sample)
    return {**row, "arch": spec, "encode s": round(encode_s, 1), "sentence_examples": outcome.sentences}


def measure_bundle(path: Path, data_path: str, cache_dir: Path, imdb_sample: int) -> dict:
    """Score a bundle trained earlier (its training seconds come from its metadata)."""
    from model import bundle, recipes
    from model.data import load_imdb

    made = bundle.load(path)
    arch = made.meta["arch"]
    data = load_imdb(data_path, cache_dir, recipes.recipe(arch), False)
    return {**score(made, data, imdb_sample), "arch": f"{arch} ({path.name})"}


def score(made, data, imdb_sample: int) -> dict:
    """Every column but the name: accuracy, intervals, calibration, size and speed of one bundle."""
    from model import batches, bundle
    from model.calibration import expected_calibration_error, with_temperature
    from model.evaluation import interval95, latency_ms, load_short_reviews
    from model.predict import Predictor

    predictor = Predictor(made)

    def scores_of(x):  # the model's own scores, before the bundle's temperature
        return np.concatenate([predictor.raw_scores(x[i : i + 64]) for i in range(0, len(x), 64)])

    x_test, y_test = batches.sample(data.x_test, data.y_test, imdb_sample)
    imdb = scores_of(x_test)
    calibration = made.meta.get("calibration") or {}
    temperature = float(calibration.get("fitted") or predictor.temperature)
    dev, test = load_short_reviews("dev"), load_short_reviews("test")
    dev_scores = scores_of(made.encoder.encode([e.text for e in dev]))
    test_scores = scores_of(made.encoder.encode([e.text for e in test]))
    dev_labels, test_labels = np.array([e.label for e in dev]), np.array([e.label for e in test])
    test_acc = float(np.mean((test_scores >= 0.5) == test_labels))
    low, high = interval95(test_acc, len(test))
    ece = {
        name: (expected_calibration_error(p, y), expected_calibration_error(with_temperature(p, temperature), y))
        for name, p, y in (("imdb", imdb, y_test), ("dev", dev_scores, dev_labels))
    }
    return {
        "params": int(made.model.count_params()),
        "bundle MB": round(len(bundle.to_bytes(made)) / 1e6, 1),
        "train s": made.meta.get("seconds", {}).get("fit", "?"),
        "IMDB acc": round(float(np.mean((imdb >= 0.5) == y_test)), 4),
        "IMDB reviews": len(y_test),
        "short dev": round(float(np.mean((dev_scores >= 0.5) == dev_labels)), 4),
        "short test (95% CI)": f"{test_acc:.3f} ({low:.3f}–{high:.3f})",
        "ECE IMDB": f"{ece['imdb'][0]:.3f} → {ece['imdb'][1]:.3f}",
        "ECE dev": f"{ece['dev'][0]:.3f} → {ece['dev'][1]:.3f}",
        "T": f"{temperature:g}"
        + ("" if temperature == 1.0 else " (used)" if predictor.temperature != 1.0 else " (not used)"),
        "ms/review": round(latency_ms(predictor, [e.text for e in dev]), 2),
        "short test by domain": {
            group: round(
                float(np.mean([(s >= 0.5) == e.label for s, e in zip(test_scores, test, strict=True) if pick(e)])), 4
            )
            for group, pick in (("film", lambda e: e.domain == "film"), ("other", lambda e: e.domain != "film"))
        },
    }


def table(rows: list[dict]) -> str:
    """A Markdown table, ready for the README."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [f"{row[c]:,}" if c == "params" else str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from common.settings import Settings
    from model.recipes import ARCHITECTURE_NAMES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("IMDB_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--arch", action="append", help="repeatable (default: every architecture)")
    parser.add_argument("--bundle", type=Path, action="append", default=[], help="measure a saved bundle (repeatable)")
    parser.add_argument("--imdb-sample", type=int, default=0, help="score this many IMDB test reviews (0: all)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    settings = Settings.from_env()
    specs = args.arch or ([] if args.bundle else ARCHITECTURE_NAMES)
    unknown = [spec for spec in specs if parse_variant(spec)[0] not in ARCHITECTURE_NAMES]
    if unknown:
        parser.error(f"unknown architecture {unknown[0]!r}; choose from {', '.join(ARCHITECTURE_NAMES)}")
    rows = []
    for spec in specs:
        row = measure(spec, args.data, settings.cache_dir, args.imdb_sample)
        print(json.dumps(row), flush=True)
        rows.append(row)
    for path in args.bundle:
        row = measure_bundle(path, args.data, settings.cache_dir, args.imdb_sample)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\ncommand: python bench/compare_models.py {' '.join(sys.argv[1:])}".rstrip())
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
