"""Train a named architecture on IMDB the way the Keras tutorial does, and save it as a bundle.

The sections follow the tutorial: load the data, build the model, fit (the test split is the
validation data, as in the tutorial), evaluate, save. :func:`train` takes one resolved
:class:`~model.recipes.TrainingPlan` and one :class:`~model.progress.TrainingProgress` listener, which
hears each stage, long epochs' batches and finished epochs, and is asked between batches whether to stop.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model import architectures, bundle, negation, neutral, pretrained, recipes
from model.batches import SEED, Batches, MixedWidthBatches, at_most, held_out, sample, scores, training_examples
from model.calibration import Calibration, calibrate
from model.callbacks import FitProgress, TestProgress
from model.data import EncodedImdb
from model.device import training_recipe
from model.evaluation import short_dev_scores
from model.progress import TrainingProgress
from model.recipes import TrainingPlan
from model.schedule import decay_to_zero

CALIBRATION_REVIEWS = 300  # held-out examples the temperature is fitted on
CALIBRATION_SENTENCES = 1_200
# Each user-labelled example counts three times: a few hundred taps then weigh about as much as a few
# percent of the sentence examples: enough to fix what users keep correcting, not enough to drown IMDB.
FEEDBACK_WEIGHT = 3.0


@dataclass
class TrainOutcome:
    """What a training run produced."""

    model: keras.Model
    arch: str
    epochs: int
    batch_size: int
    seed: int
    history: dict[str, list[float]]
    cancelled: bool
    sentences: int = 0  # single-sentence examples trained on besides the reviews
    test_reviews: int = 0  # test reviews the test accuracy was measured on
    schedule: str = ""  # what ran, said honestly: "5 epochs", "one pass over ..., in 8 parts"
    calibration: Calibration = field(default_factory=Calibration)  # serving divides logits by .applied
    short_dev_accuracy: float | None = None  # on model/short_reviews.tsv's dev split
    feedback: dict | None = None  # {"examples", "weight", "accuracy"} when users' feedback was trained on
    test_accuracy: float | None = None
    test_loss: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Number of model parameters."""
        return int(self.model.count_params())


@dataclass(frozen=True)
class Examples:
    """Extra labelled rows to train on (users' feedback), each counting ``weight`` times."""

    x: np.ndarray
    y: np.ndarray
    weight: float

    @classmethod
    def encode(cls, data: EncodedImdb, texts: list[str], labels: list[int], weight: float, width: int) -> Examples:
        """Rows for ``texts`` made by the data's own encoder."""
        return cls(data.encoder.encode(texts, width), np.asarray(labels, "int32"), weight)


def build_model(arch: str, data: EncodedImdb, seed: int = SEED) -> keras.Model:
    """The named architecture, seeded, sized for the data's encoder, adapted to the training examples."""
    keras.utils.set_random_seed(seed)
    model = architectures.build(arch, data.encoder)
    architectures.adapt(arch, model, [(data.x_train, data.y_train), (data.x_sentences, data.y_sentences)])
    return model


def _evaluation_data(data: EncodedImdb, size: int, batch_size: int, trim: bool):
    """The test reviews (or a fixed sample of ``size`` of them) as validation data."""
    x, y = sample(data.x_test, data.y_test, size)
    return Batches(x, y, batch_size, trim) if trim or size else (x, y)


def sentence_pool(data: EncodedImdb, recipe: recipes.Recipe) -> tuple[np.ndarray, np.ndarray]:
    """The sentences a training samples from: those of at most the recipe's ``sentence_pieces`` (shorter
    rows cost less, and chat one-liners are short), or all of them; with ``negation_balanced``, as many
    negation sentences of positive reviews as of negative ones; with ``neutral_dropped``, without the
    sentences that say least (their strength weighed by the training reviews)."""
    x, y = at_most(data.x_sentences, data.y_sentences, recipe.sentence_pieces)
    if recipe.negation_balanced and len(y):
        x, y = negation.balanced(x, y, negation.says_no(x, data.encoder), SEED)
    if recipe.neutral_dropped and len(y):
        ratios = neutral.piece_ratios(data.x_train, data.y_train, data.encoder.input_dim, data.encoder.special_ids)
        x, y = neutral.without_neutral(x, y, ratios, recipe.neutral_dropped)
    return x, y


def fit(
    model: keras.Model,
    data: EncodedImdb,
    plan: TrainingPlan,
    progress: TrainingProgress,
    verbose: int | str = 0,
    extra: Examples | None = None,
) -> tuple[dict[str, list[float]], bool]:
    """Fit with the test split (or the recipe's sample of it) as validation data; returns (history, cancelled).

    ``extra`` (rows, labels, weight), e.g. users' feedback, is trained on beside the IMDB examples,
    each of its examples counting ``weight`` times.
    """
    recipe = training_recipe(plan.arch)
    trim = data.encoder.pads_to_longest
    listener = FitProgress(plan.epochs, progress)
    validation = _evaluation_data(data, recipe.validation_sample, plan.batch_size, trim)
    common = {"epochs": plan.epochs, "validation_data": validation, "callbacks": [listener], "verbose": verbose}
    reviews = sample(data.x_train, data.y_train, recipe.review_sample)
    sentences = sample(*sentence_pool(data, recipe), recipe.sentence_sample)
    narrower = len(sentences[1]) and sentences[0].shape[1] < reviews[0].shape[1]
    if trim or recipe.epochs_per_pass > 1 or narrower or extra is not None:
        parts: list[tuple[np.ndarray, ...]] = [part for part in (reviews, sentences) if len(part[1])]
        if extra is not None:  # weighted: every part carries weights, 1 for the IMDB examples
            parts = [(x, y, np.ones(len(y), "float32")) for x, y in parts]
            parts.append((extra.x, extra.y, np.full(len(extra.y), extra.weight, "float32")))
        batches = MixedWidthBatches(parts, plan.batch_size, SEED, trim, recipe.epochs_per_pass, recipe.length_window)
        if recipe.decay_to_zero:
            decay_to_zero(model, len(batches) * plan.epochs)
        history = model.fit(batches, **common)
    else:
        x, y = training_examples(data.x_train, data.y_train, data.x_sentences, data.y_sentences)
        history = model.fit(x, y, batch_size=plan.batch_size, **common)
    finished = {key: [float(v) for v in values] for key, values in history.history.items()}
    if listener.cancelled:  # the interrupted epoch's figures describe half an epoch: drop them
        finished = {key: values[: listener.completed] for key, values in finished.items()}
    return finished, listener.cancelled


def evaluate(
    model: keras.Model,
    data: EncodedImdb,
    batch_size: int = 512,
    size: int = 0,
    progress: TrainingProgress | None = None,
) -> tuple[float, float]:
    """(loss, accuracy) on the test split, or on a fixed sample of ``size`` test reviews."""
    trim = data.encoder.pads_to_longest
    batch_size = 64 if trim else batch_size  # a transformer's attention grows with the batch: keep it small
    evaluation = _evaluation_data(data, size, batch_size, trim)
    reviews = min(len(data.y_test), size or len(data.y_test))
    callbacks = [TestProgress(progress, reviews, batch_size)] if progress else []
    if isinstance(evaluation, tuple):
        loss, accuracy = model.evaluate(*evaluation, batch_size=batch_size, verbose=0, callbacks=callbacks)
    else:
        loss, accuracy = model.evaluate(evaluation, verbose=0, callbacks=callbacks)
    return float(loss), float(accuracy)


def held_out_scores(model: keras.Model, data: EncodedImdb, recipe: recipes.Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of training reviews and sentences the recipe's samples left out (none for most)."""
    parts = [
        held_out(data.x_train, data.y_train, recipe.review_sample, CALIBRATION_REVIEWS),
        held_out(*sentence_pool(data, recipe), recipe.sentence_sample, CALIBRATION_SENTENCES),
    ]
    parts = [(x, y) for x, y in parts if len(y)]
    if not parts:
        return np.zeros(0), np.zeros(0, "int32")
    found = np.concatenate([scores(model, x, data.encoder.pads_to_longest) for x, _ in parts])
    return found, np.concatenate([y for _, y in parts])


def train(
    data: EncodedImdb,
    plan: TrainingPlan,
    seed: int = SEED,
    progress: TrainingProgress | None = None,
    verbose: int | str = 0,
    feedback: tuple[list[str], list[int]] | None = None,
    test: bool = True,
) -> TrainOutcome:
    """Build, fit and evaluate as ``plan`` says; a cancelled run skips evaluation and says so.

    ``feedback`` (texts, labels from users) is trained on with weight FEEDBACK_WEIGHT and scored
    separately afterwards; it never enters the test figures the quality gate reads. Without ``test``
    the test split is left to the caller (a blend tests its parts together).
    """
    progress = progress or TrainingProgress()
    recipe = training_recipe(plan.arch)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model = build_model(plan.arch, data, seed)
    extra = None
    if feedback is not None and feedback[0]:
        extra = Examples.encode(data, *feedback, FEEDBACK_WEIGHT, recipe.sentence_width)
    history, cancelled = fit(model, data, plan, progress, verbose, extra)
    seconds["fit"] = round(time.perf_counter() - started, 3)
    pool = len(sentence_pool(data, recipe)[1])
    outcome = TrainOutcome(
        model=model,
        arch=plan.arch,
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        seed=seed,
        history=history,
        cancelled=cancelled,
        sentences=min(pool, recipe.sentence_sample or pool),
        test_reviews=min(len(data.y_test), recipe.test_sample or len(data.y_test)),
        schedule=recipe.schedule(plan),
        seconds=seconds,
    )
    if cancelled:
        return outcome
    if test:
        progress.stage(f"testing on {outcome.test_reviews:,} test reviews")
        started = time.perf_counter()
        outcome.test_loss, outcome.test_accuracy = evaluate(model, data, size=recipe.test_sample, progress=progress)
        seconds["evaluate"] = round(time.perf_counter() - started, 3)
    else:
        outcome.test_reviews = 0
    progress.stage("calibrating and scoring the short dev split")
    started = time.perf_counter()
    dev_scores, dev_labels = short_dev_scores(model, data.encoder)
    outcome.calibration = calibrate(*held_out_scores(model, data, recipe), dev_scores, dev_labels)
    seconds["calibrate"] = round(time.perf_counter() - started, 3)
    outcome.short_dev_accuracy = round(float(np.mean((dev_scores >= 0.5) == (dev_labels == 1))), 4)
    if extra is not None:
        hits = scores(model, extra.x, data.encoder.pads_to_longest) >= 0.5
        outcome.feedback = {
            "examples": len(extra.y),
            "weight": extra.weight,
            "accuracy": round(float(np.mean(hits == (extra.y == 1))), 4),
        }
    return outcome


def make_bundle(outcome: TrainOutcome, data: EncodedImdb) -> bundle.Bundle:
    """Wrap a finished run with its encoder and the metadata people and the registry read."""
    meta = {
        "version": bundle.new_version(),
        "arch": outcome.arch,
        "params": outcome.params,
        "hyperparameters": {
            "epochs": outcome.epochs,
            "batch_size": outcome.batch_size,
            "seed": outcome.seed,
            "num_words": data.encoder.num_words,
            "maxlen": data.encoder.maxlen,
            "layout": data.encoder.layout,
            "buckets": data.encoder.buckets,
            "sentence_examples": outcome.sentences,
        },
        "test_reviews": outcome.test_reviews,
        "schedule": outcome.schedule,
        "seconds": outcome.seconds,
        "temperature": outcome.calibration.applied,
        "calibration": outcome.calibration.to_dict(),
        "short_dev_accuracy": outcome.short_dev_accuracy,
        "feedback": outcome.feedback,
        "history": outcome.history,
        "test_accuracy": outcome.test_accuracy,
        "test_loss": outcome.test_loss,
        "dataset": data.fingerprint,
        **({"pretrained": pretrained.provenance()} if recipes.recipe(outcome.arch).pretrained else {}),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }
    return bundle.Bundle(model=outcome.model, encoder=data.encoder, meta=meta)


def save_bundle(outcome: TrainOutcome, data: EncodedImdb, out_dir: Path) -> tuple[bundle.Bundle, Path]:
    """Make the bundle and write it into ``out_dir``."""
    made = make_bundle(outcome, data)
    return made, bundle.save(made, out_dir)
