"""Training the blend (model/blend.py): both parts on the same data, the mix chosen on dev data, one bundle.

1. Hold ``dev_reviews`` training reviews out of both parts (with every sentence cut from them).
2. Train nbsvm on the rest (a minute; heard as stages, not epochs) and test it on all test reviews.
3. Fine-tune MiniLM on the rest: its parts are the blend's reported epochs.
4. Choose the rule on the held-out reviews and the short dev split, never on a test split.
5. Test the blend on the recipe's test sample, MiniLM reading only what the rule sends it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import bundle, recipes
from model.batches import SEED, sample, scores
from model.blend import PARTS, BlendRule, DevScores, accuracy, choose_rule
from model.calibration import logits
from model.data import EncodedImdb, load_imdb
from model.device import training_recipe
from model.errors import DatasetInvalid
from model.evaluation import short_dev_scores
from model.intervals import interval95
from model.progress import EpochReport, TrainingProgress
from model.recipes import TrainingPlan
from model.train import TrainOutcome, make_bundle, train


@dataclass
class BlendOutcome:
    """What a blend training produced: the figures reports read (named as in TrainOutcome) and its parts."""

    arch: str
    epochs: int
    batch_size: int
    seed: int
    history: dict[str, list[float]]
    cancelled: bool
    parts: dict[str, TrainOutcome] = field(default_factory=dict)
    data: dict[str, EncodedImdb] = field(default_factory=dict)
    rule: BlendRule | None = None
    dev: dict[str, int] = field(default_factory=dict)  # examples the rule was chosen on
    minilm_share: float = 0.0  # of the test reviews, the share MiniLM read
    sentences: int = 0
    schedule: str = ""
    feedback: dict | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    test_reviews: int = 0
    short_dev_accuracy: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Parameters of both parts together."""
        return sum(part.params for part in self.parts.values())


class PartProgress(TrainingProgress):
    """A part trained before the reported one (nbsvm): its epochs are stages, not the blend's epochs."""

    def __init__(self, progress: TrainingProgress, name: str) -> None:
        self.progress, self.name = progress, name

    def stage(self, name: str) -> None:
        self.progress.stage(f"{self.name} part: {name}")

    def batch(self, epoch: int, done: int, batches: int) -> None:
        self.progress.stage(f"{self.name} part: epoch {epoch}, {done}/{batches} batches")

    def epoch(self, report: EpochReport) -> None:
        self.progress.stage(f"{self.name} part: epoch {report.epoch}/{report.epochs} done")

    def should_stop(self) -> bool:
        return self.progress.should_stop()


def dev_rows(reviews: int, size: int, seed: int = SEED) -> np.ndarray:
    """The training reviews held out to choose the mix on (at most a tenth of them: tests use small data)."""
    return np.sort(np.random.default_rng(seed + 2).choice(reviews, min(size, reviews // 10), replace=False))


def _logits(outcome: TrainOutcome, x: np.ndarray, data: EncodedImdb) -> np.ndarray:
    """A trained part's calibrated logits for rows, as serving computes them."""
    return logits(scores(outcome.model, x, data.encoder.pads_to_longest)) / outcome.calibration.applied


def _short_dev(outcome: TrainOutcome, data: EncodedImdb) -> tuple[np.ndarray, np.ndarray]:
    found, labels = short_dev_scores(outcome.model, data.encoder)
    return logits(found) / outcome.calibration.applied, labels


def _pieces(x: np.ndarray) -> np.ndarray:
    """Word pieces in each row (padding is 0): the length the rule reads."""
    return np.count_nonzero(x, axis=1)


def train_blend(
    source: str | Path,
    cache_dir: Path,
    plan: TrainingPlan,
    progress: TrainingProgress | None = None,
    seed: int = SEED,
    verbose: int | str = 0,
    feedback: tuple[list[str], list[int]] | None = None,
) -> BlendOutcome:
    """Train the blend ``plan`` names (its epochs and batch size are MiniLM's) from the aclImdb data at ``source``."""
    progress = progress or TrainingProgress()
    recipe = training_recipe(plan.arch)
    first, second = PARTS
    outcome = BlendOutcome(plan.arch, plan.epochs, plan.batch_size, seed, {}, False, schedule=recipe.schedule(plan))
    started = time.perf_counter()
    progress.stage(f"loading data for the {first} part")
    outcome.data = data = {first: load_imdb(source, cache_dir, recipes.recipe(first), sentences=False)}
    dev = dev_rows(len(data[first].y_train), recipe.dev_reviews, seed)
    part_plan = recipes.plan(first, feedback=plan.feedback)
    made = train(data[first].without_reviews(dev), part_plan, seed, PartProgress(progress, first), verbose, feedback)
    outcome.parts[first] = made
    if made.cancelled:
        outcome.cancelled = True
        return outcome
    progress.stage(f"loading data for the {second} part")
    data[second] = load_imdb(source, cache_dir, recipes.recipe(second), plan.sentences)
    if not np.array_equal(data[second].y_train, data[first].y_train):
        raise DatasetInvalid("The two parts read the training reviews in different orders; delete the cache.")
    second_plan = TrainingPlan(second, plan.epochs, plan.batch_size, plan.sentences, plan.feedback)
    made = train(data[second].without_reviews(dev), second_plan, seed, progress, verbose, feedback, test=False)
    outcome.parts[second] = made
    outcome.history, outcome.sentences, outcome.feedback = made.history, made.sentences, made.feedback
    outcome.seconds["fit"] = round(time.perf_counter() - started, 3)
    if made.cancelled:
        outcome.cancelled = True
        return outcome
    progress.stage(f"choosing the mix on {len(dev):,} held-out reviews and the short dev split")
    parts = [(outcome.parts[name], data[name]) for name in PARTS]
    labels = data[first].y_train[dev]
    long = DevScores(*(_logits(o, d.x_train[dev], d) for o, d in parts), labels)
    (nb_short, short_labels), (ml_short, _) = (_short_dev(o, d) for o, d in parts)
    short = DevScores(nb_short, ml_short, short_labels)
    outcome.rule = rule = choose_rule(short, long)
    outcome.dev = {"reviews": len(dev), "short": len(short_labels)}
    one_liners = np.zeros(len(short_labels))  # the short dev split's texts are all short: their weight is short_weight
    outcome.short_dev_accuracy = round(accuracy(rule.mix(nb_short, ml_short, one_liners), short_labels), 4)
    started = time.perf_counter()
    outcome.test_accuracy, outcome.test_reviews, outcome.minilm_share = _test(outcome, recipe.test_sample, progress)
    outcome.seconds["evaluate"] = round(time.perf_counter() - started, 3)
    return outcome


def _test(outcome: BlendOutcome, size: int, progress: TrainingProgress) -> tuple[float, int, float]:
    """(accuracy, reviews, share MiniLM read) of the blend on ``size`` test reviews (0: all)."""
    first = PARTS[0]
    rows, labels = sample(np.arange(len(outcome.data[first].y_test)), outcome.data[first].y_test, size)
    progress.stage(f"testing the blend on {len(rows):,} test reviews")
    (nb, nb_data), (ml, ml_data) = ((outcome.parts[n], outcome.data[n]) for n in PARTS)
    bag = _logits(nb, nb_data.x_test[rows], nb_data)
    pieces = _pieces(ml_data.x_test[rows])
    needed = outcome.rule.needs_minilm(bag, pieces)
    transformer = np.full(len(rows), np.nan)
    if needed.any():
        transformer[needed] = _logits(ml, ml_data.x_test[rows[needed]], ml_data)
    mixed = outcome.rule.mix(bag, transformer, pieces)
    return round(accuracy(mixed, labels), 4), len(rows), round(float(needed.mean()), 4)


def _part_summary(outcome: TrainOutcome, made: bundle.Bundle) -> dict:
    """What /model shows of a part."""
    validation = outcome.history.get("val_accuracy", [])
    summary = {
        "version": made.version,
        "params": outcome.params,
        "test_accuracy": outcome.test_accuracy,
        "test_reviews": outcome.test_reviews,
        "short_dev_accuracy": outcome.short_dev_accuracy,
        "val_accuracy": validation[-1] if validation else None,
    }
    if outcome.test_accuracy is not None:
        summary["test_interval"] = interval95(outcome.test_accuracy, outcome.test_reviews)
    return summary


def make_blend_bundle(outcome: BlendOutcome) -> bundle.BlendBundle:
    """One bundle holding both parts' bundles and the rule that mixes them."""
    parts = {name: make_bundle(outcome.parts[name], outcome.data[name]) for name in PARTS}
    newest = parts[PARTS[-1]].meta
    meta = {
        "version": bundle.new_version(),
        "arch": outcome.arch,
        "parts": list(PARTS),
        "rule": outcome.rule.to_dict() if outcome.rule else None,
        "dev": outcome.dev,
        "minilm_share": outcome.minilm_share,
        "part_summaries": {name: _part_summary(outcome.parts[name], parts[name]) for name in PARTS},
        "params": outcome.params,
        "hyperparameters": {"epochs": outcome.epochs, "batch_size": outcome.batch_size, "seed": outcome.seed},
        "test_reviews": outcome.test_reviews,
        "schedule": outcome.schedule,
        "seconds": outcome.seconds,
        "short_dev_accuracy": outcome.short_dev_accuracy,
        "feedback": outcome.feedback,
        "history": outcome.history,
        "test_accuracy": outcome.test_accuracy,
        "test_loss": None,
        **{key: newest[key] for key in ("dataset", "pretrained", "versions") if key in newest},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return bundle.BlendBundle(parts=parts, meta=meta)
