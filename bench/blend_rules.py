"""How a trained blend's rule is chosen, on its own dev data: each weight's dev accuracy and log loss,
and the nbsvm-alone threshold at each allowed cost. No test split is read.

    python bench/blend_rules.py --model BUNDLE --data aclImdb_v1.tar.gz [--cache DIR] [--write DIR]

The held-out training reviews are the ones the blend's training held out (``dev_rows``: same seed,
same count), scored by the bundle's parts as serving scores them; the short dev split as the training
scores it. ``--write DIR`` saves a copy of the bundle whose rule is the one this code chooses now (the
same parts): for measuring a change to the choosing with ``bench/blend_figures.py`` without retraining.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from model import bundle, recipes
from model.batches import scores
from model.blend import PARTS, WEIGHTS, DevScores, accuracy, choose_rule, log_loss, sure_logit
from model.blend_train import dev_rows
from model.calibration import logits
from model.data import load_imdb
from model.errors import ModelError
from model.evaluation import load_short_reviews
from model.predict import BlendPredictor


def dev_scores(predictor: BlendPredictor, data: str, cache: Path, held_out: int) -> tuple[DevScores, DevScores]:
    """(short dev, held-out reviews) logits of both parts, as the blend's training computed them."""
    parts = [predictor.nbsvm, predictor.minilm]
    encoded = [load_imdb(data, cache, recipes.recipe(name), recipes.recipe(name).sentences) for name in PARTS]
    rows = dev_rows(len(encoded[0].y_train), held_out)
    long = DevScores(
        *(
            logits(scores(p.bundle.model, d.x_train[rows], d.encoder.pads_to_longest)) / p.temperature
            for p, d in zip(parts, encoded, strict=True)
        ),
        encoded[0].y_train[rows],
    )
    short_texts = load_short_reviews("dev")
    short = DevScores(
        *(logits(p.scores(p.bundle.encoder.encode([e.text for e in short_texts]), compiled=False)) for p in parts),
        np.array([e.label for e in short_texts]),
    )
    return short, long


def weight_table(name: str, dev: DevScores) -> None:
    print(f"{name} (n={len(dev.labels):,}): weight on MiniLM, accuracy, log loss")
    for weight in WEIGHTS:
        mixed = (1 - weight) * dev.nbsvm + weight * dev.minilm
        print(f"  {weight:.2f}  {accuracy(mixed, dev.labels):.4f}  {log_loss(mixed, dev.labels):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a blend bundle (.sentibot)")
    parser.add_argument("--data", required=True, help="the aclImdb folder or .tar.gz it was trained on")
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser() / "cache"
    )
    parser.add_argument("--write", type=Path, help="save a copy with the rule chosen by this code here")
    args = parser.parse_args()
    try:
        loaded = bundle.load(args.model)
    except ModelError as error:
        raise SystemExit(str(error)) from None
    if not isinstance(loaded, bundle.BlendBundle):
        arch = loaded.meta.get("arch", "single-model")
        raise SystemExit(f"{args.model} is a {arch} bundle, not a blend: only a blend has a rule to choose.")
    predictor = BlendPredictor(loaded)
    held_out = int(loaded.meta["dev"]["reviews"])
    short, long = dev_scores(predictor, args.data, args.cache, held_out)
    print(f"bundle {loaded.version}, its rule {json.dumps(loaded.meta['rule'])}")
    weight_table("short dev", short)
    weight_table("held-out reviews", long)
    rule = choose_rule(short, long)
    print(f"chosen now: {json.dumps(rule.to_dict())}")
    for cost in (0.0, 0.001, 0.002, 0.005):
        threshold = sure_logit(long, rule.long_weight, cost)
        share = float(np.mean(np.abs(long.nbsvm) < threshold))
        print(
            f"  nbsvm alone at cost {cost:.3f}: |logit| >= {threshold:.2f}, "
            f"MiniLM reads {share:.1%} of the held-out reviews"
        )
    if args.write:
        meta = {**loaded.meta, "rule": rule.to_dict(), "version": bundle.new_version()}
        path = bundle.save(dataclasses.replace(loaded, meta=meta), args.write)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
