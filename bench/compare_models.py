"""Train each architecture on full IMDB and compare them on IMDB test and on one-sentence reviews.

    python bench/compare_models.py [--data PATH] [--arch NAME[+sentences] ...] [--json FILE]

Prints one row per architecture: parameters, bundle size, seconds to encode the data (cached after
the first run) and to fit, IMDB test accuracy, accuracy on model/short_reviews.tsv, and the
median time to score one review. `NAME+sentences` / `NAME-sentences` overrides the recipe's
sentence-examples switch. Nothing here is tuned on the test split: the recipes are fixed beforehand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
COLUMNS = ("arch", "params", "bundle MB", "encode s", "train s", "IMDB acc", "short acc", "ms/review")


def parse_variant(spec: str) -> tuple[str, bool | None]:
    """'glove+sentences' → ('glove', True); 'fasttext' → ('fasttext', None: the recipe decides)."""
    for suffix, value in (("+sentences", True), ("-sentences", False)):
        if spec.endswith(suffix):
            return spec[: -len(suffix)], value
    return spec, None


def measure(spec: str, data_path: str, cache_dir: Path) -> dict:
    """Encode, train, evaluate and time one architecture."""
    from model import bundle, recipes, train
    from model.data import load_imdb
    from model.evaluation import accuracy, latency_ms, load_short_reviews
    from model.predict import Predictor

    name, sentences = parse_variant(spec)
    plan = recipes.plan(name, sentences=sentences)
    started = time.perf_counter()
    data = load_imdb(data_path, cache_dir, recipes.recipe(name), plan.sentences)
    encode_s = time.perf_counter() - started
    outcome = train.train(data, name, plan.epochs, plan.batch_size, verbose=0)
    made = train.make_bundle(outcome, data)
    size_mb = len(bundle.to_bytes(made)) / 1e6
    predictor = Predictor(made)
    short = load_short_reviews()
    return {
        "arch": name + ("+sentences" if plan.sentences else ""),
        "params": outcome.params,
        "bundle MB": round(size_mb, 1),
        "encode s": round(encode_s, 1),
        "train s": round(outcome.seconds["fit"], 1),
        "IMDB acc": round(outcome.test_accuracy, 4),
        "short acc": round(accuracy(predictor, short), 4),
        "ms/review": round(latency_ms(predictor, [e.text for e in short]), 2),
        "epochs": outcome.epochs,
        "sentence_examples": outcome.sentences,
    }


def table(rows: list[dict]) -> str:
    """A Markdown table, ready for the README."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [f"{row[c]:,}" if c == "params" else str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from model.recipes import ARCHITECTURE_NAMES
    from sentibot.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("IMDB_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--arch", action="append", help="repeatable (default: every architecture)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    settings = Settings.from_env()
    specs = args.arch or ARCHITECTURE_NAMES
    unknown = [spec for spec in specs if parse_variant(spec)[0] not in ARCHITECTURE_NAMES]
    if unknown:
        parser.error(f"unknown architecture {unknown[0]!r}; choose from {', '.join(ARCHITECTURE_NAMES)}")
    rows = []
    for spec in specs:
        row = measure(spec, args.data, settings.cache_dir)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\ncommand: python bench/compare_models.py {' '.join(sys.argv[1:])}".rstrip())
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
