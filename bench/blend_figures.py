"""The blend and each of its parts on the same texts: IMDB test accuracy, the short dev and test splits,
and what serving costs (a one-liner, a full review) in this process.

    python bench/blend_figures.py --model BUNDLE --data aclImdb_v1.tar.gz [--reviews 25000] [--minilm-reviews 2000]

In this order (the longest last, each line printed when done): the short splits, the ``--minilm-reviews``
sample for all three, the latencies, then nbsvm and the blend on ``--reviews`` test reviews. nbsvm and
the blend score ``--reviews`` test reviews (the blend's MiniLM reads only those its rule sends
it); MiniLM alone reads 0.15-0.3 s a review on 2 cores, so it scores a random ``--minilm-reviews`` of them,
and the blend and nbsvm are also shown on that same sample. Every accuracy comes with n and its 95% interval.
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

import numpy as np

from model import bundle
from model.data import read_aclimdb
from model.evaluation import interval95, latency_ms, load_short_reviews
from model.predict import BlendPredictor, predictor_for


def accuracy(predictor, texts: list[str], labels: np.ndarray) -> tuple[float, float]:
    """(accuracy, seconds) scoring ``texts`` as a file is scored."""
    started = time.perf_counter()
    predictions = predictor.predict_many(texts)
    seconds = time.perf_counter() - started
    hits = np.array([p.label == "positive" for p in predictions]) == (labels == 1)
    return float(hits.mean()), seconds


def shown(value: float, n: int) -> str:
    low, high = interval95(value, n)
    return f"{value:.4f} (n={n:,}, 95% {low:.3f}-{high:.3f})"


def p50_ms(predictor, texts: list[str], repeats: int) -> float:
    """Median ms to score one text alone (encode + model calls), as one chat message is."""
    for text in texts[:3]:
        predictor.predict([text])  # compile the shapes first
    return latency_ms(predictor, texts, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a blend bundle (.sentibot)")
    parser.add_argument("--data", required=True, help="aclImdb folder or .tar.gz")
    parser.add_argument("--reviews", type=int, default=25_000, help="test reviews for nbsvm and the blend")
    parser.add_argument("--minilm-reviews", type=int, default=2_000, help="test reviews MiniLM alone reads")
    parser.add_argument("--latency-repeats", type=int, default=100)
    args = parser.parse_args()

    blend = predictor_for(bundle.load(args.model))
    if not isinstance(blend, BlendPredictor):
        raise SystemExit(f"{args.model} is not a blend bundle")
    parts = {"nbsvm": blend.nbsvm, "minilm": blend.minilm, "blend": blend}
    raw = read_aclimdb(args.data)
    rng = np.random.default_rng(20)
    rows = np.sort(rng.choice(len(raw.test_labels), min(args.reviews, len(raw.test_labels)), replace=False))
    texts = [raw.test_texts[i] for i in rows]
    labels = np.asarray(raw.test_labels)[rows]
    few = np.sort(rng.choice(len(rows), min(args.minilm_reviews, len(rows)), replace=False))
    figures: dict = {"rule": blend.rule.to_dict(), "version": blend.version}
    print(f"blend {blend.version}, rule {json.dumps(blend.rule.to_dict())}", flush=True)

    for split in ("dev", "test"):
        short = load_short_reviews(split)
        short_texts, short_labels = [e.text for e in short], np.array([e.label for e in short])
        for name, predictor in parts.items():
            value, _ = accuracy(predictor, short_texts, short_labels)
            figures[f"short_{split}_{name}"] = {"accuracy": value, "n": len(short)}
            print(f"short {split}, {name}: {shown(value, len(short))}", flush=True)

    sample_texts, sample_labels = [texts[i] for i in few], labels[few]
    for name, predictor in parts.items():
        value, seconds = accuracy(predictor, sample_texts, sample_labels)
        figures[f"imdb_sample_{name}"] = {"accuracy": value, "n": len(few), "seconds": round(seconds, 1)}
        print(f"IMDB test sample, {name}: {shown(value, len(few))} in {seconds:.0f} s", flush=True)
    pieces = np.array([len(e.ids) for e in blend.minilm.bundle.encoder.analyse_many(sample_texts)])
    bag = np.array([p.score for p in blend.nbsvm.predict_many(sample_texts)])
    logits = np.log(np.clip(bag, 1e-7, 1 - 1e-7) / np.clip(1 - bag, 1e-7, 1))
    share = float(blend.rule.needs_minilm(logits, pieces).mean())
    figures["minilm_reads_share_of_reviews"] = round(share, 4)
    print(f"MiniLM reads {share:.1%} of these full reviews; nbsvm decides the rest alone", flush=True)

    one_liners = [e.text for e in load_short_reviews("dev")]
    for name, predictor in parts.items():
        one = p50_ms(predictor, one_liners, args.latency_repeats)
        full = p50_ms(predictor, sample_texts, args.latency_repeats)
        figures[f"p50_ms_{name}"] = {"one_liner": round(one, 2), "full_review": round(full, 2)}
        print(f"p50 in process, {name}: one-liner {one:.1f} ms, full review {full:.1f} ms", flush=True)
    for name in ("nbsvm", "blend"):
        value, seconds = accuracy(parts[name], texts, labels)
        figures[f"imdb_{name}"] = {"accuracy": value, "n": len(texts), "seconds": round(seconds, 1)}
        print(f"IMDB test, {name}: {shown(value, len(texts))} in {seconds:.0f} s", flush=True)
    figures["bundle_mb"] = round(args.model.stat().st_size / 1e6, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
