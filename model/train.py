"""Train a named architecture on IMDB the way the Keras tutorial does, and save it as a bundle.

The sections follow the tutorial: load the data, build the model, fit (the test split is the
validation data, as in the tutorial), evaluate, save. Epochs and batch size default to the
architecture's recipe. Progress goes to a callback the caller gives (the queue job forwards it to
chat); a stop request is honoured between batches.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model import architectures, bundle, pretrained, recipes
from model.calibration import expected_calibration_error, fit_temperature, with_temperature
from model.data import EncodedImdb
from model.encoding import rounded_width
from model.evaluation import load_short_reviews

SEED = 1337  # fixed so two runs agree
STOP_POLL_S = 0.5  # how often the stop request is checked while fitting
TRAIN_ROUND = 32  # training batches of word pieces are cut to a multiple of this many columns
BATCH_REPORT_S = 30.0  # a long epoch reports how far it has got this often (chat shows it)
CALIBRATION_REVIEWS = 300  # held-out examples the temperature is fitted on
CALIBRATION_SENTENCES = 1_200
# Each user-labelled example counts three times: a few hundred taps then weigh about as much as a few
# percent of the sentence examples: enough to fix what users keep correcting, not enough to drown IMDB.
FEEDBACK_WEIGHT = 3.0


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch, as sent to the progress callback."""

    epoch: int
    epochs: int
    accuracy: float
    val_accuracy: float
    loss: float
    val_loss: float
    seconds: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """The temperature fitted on held-out training examples, and whether serving uses it."""

    fitted: float = 1.0  # T that minimises log loss on the held-out examples
    examples: int = 0  # held-out examples it was fitted on (0: the recipe trains on everything)
    dev_ece: tuple[float, float] = (0.0, 0.0)  # ECE on the short dev split without, with T
    applied: float = 1.0  # fitted if it lowered the dev ECE, else 1 (chosen on dev, never on test)

    def to_dict(self) -> dict:
        return asdict(self)


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


class _Progress(keras.callbacks.Callback):
    """Forwards epoch metrics to a plain function and stops between batches on request."""

    def __init__(
        self,
        epochs: int,
        on_epoch: Callable[[EpochReport], None] | None,
        should_stop: Callable[[], bool] | None,
        on_batch: Callable[[int, int, int], None] | None = None,
    ):
        super().__init__()
        self.epochs = epochs
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        self.on_batch = on_batch  # (epoch, batches done, batches in the epoch), every BATCH_REPORT_S
        self._epoch = 0
        self._last_report = 0.0
        self.cancelled = False
        self.completed = 0  # epochs that ran to the end (an interrupted one still gets validated by Keras)
        self._epoch_start = 0.0
        self._last_poll = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch = epoch
        self._last_report = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        if self.on_batch is not None and now - self._last_report >= BATCH_REPORT_S:
            self._last_report = now
            self.on_batch(self._epoch + 1, batch + 1, int(self.params.get("steps") or 0))
        if self.should_stop is None or now - self._last_poll < STOP_POLL_S:
            return
        self._last_poll = now
        if self.should_stop():
            self.cancelled = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.cancelled:
            return
        self.completed = epoch + 1
        if self.on_epoch is None or "val_accuracy" not in logs:
            return
        self.on_epoch(
            EpochReport(
                epoch=epoch + 1,
                epochs=self.epochs,
                accuracy=float(logs["accuracy"]),
                val_accuracy=float(logs["val_accuracy"]),
                loss=float(logs["loss"]),
                val_loss=float(logs["val_loss"]),
                seconds=round(time.perf_counter() - self._epoch_start, 3),
            )
        )


class LinearDecay(keras.callbacks.Callback):
    """Warm the learning rate up over the first ``warmup`` share of steps, then take it linearly to 0.

    Fine-tuning a pretrained encoder at a constant rate leaves the model wherever the last batches
    pushed it (measured here: validation accuracy 0.87 one epoch, 0.72 the next); decaying to 0 settles it.
    """

    def __init__(self, total_steps: int, warmup: float = 0.1):
        super().__init__()
        self.total_steps = max(1, total_steps)
        self.warmup_steps = max(1, int(warmup * self.total_steps))
        self.step = 0
        self.peak = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.peak = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.step < self.warmup_steps:
            share = (self.step + 1) / self.warmup_steps
        else:
            share = max(0.0, (self.total_steps - self.step) / (self.total_steps - self.warmup_steps))
        self.model.optimizer.learning_rate.assign(self.peak * share)
        self.step += 1


def build_model(arch: str, data: EncodedImdb, seed: int = SEED) -> keras.Model:
    """The named architecture, seeded, sized for the data's encoder, adapted to the training examples."""
    keras.utils.set_random_seed(seed)
    model = architectures.build(arch, data.encoder)
    architectures.adapt(arch, model, [(data.x_train, data.y_train), (data.x_sentences, data.y_sentences)])
    return model


def training_examples(data: EncodedImdb) -> tuple[np.ndarray, np.ndarray]:
    """The reviews, plus the sentence examples (padded to the reviews' width) when the data has them."""
    if not len(data.y_sentences):
        return data.x_train, data.y_train
    sentences = data.x_sentences
    if sentences.shape[1] < data.x_train.shape[1]:
        sentences = np.pad(sentences, ((0, 0), (0, data.x_train.shape[1] - sentences.shape[1])))
    return np.concatenate([data.x_train, sentences]), np.concatenate([data.y_train, data.y_sentences])


def sample(x: np.ndarray, y: np.ndarray, size: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``size`` rows drawn without replacement (kept in their order); all of them when size is 0 or more."""
    if not 0 < size < len(y):
        return x, y
    rows = np.sort(np.random.default_rng(seed).choice(len(y), size, replace=False))
    return x[rows], y[rows]


def held_out(x: np.ndarray, y: np.ndarray, size: int, count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` rows that :func:`sample` (same size and seed) left out: examples never trained on."""
    if not 0 < size < len(y):
        return x[:0], y[:0]
    rest = np.setdiff1d(np.arange(len(y)), sample(np.arange(len(y)), y, size, seed)[0])
    rows = np.sort(np.random.default_rng(seed + 1).permutation(rest)[:count])
    return x[rows], y[rows]


def _trimmed(x: np.ndarray, trim: bool) -> np.ndarray:
    """Rows padded at the end lose the columns no row in the batch uses (rounded up: few traced shapes)."""
    if not trim or not len(x):
        return x
    used = np.flatnonzero(x.any(axis=0))
    return x[:, : rounded_width(int(used[-1]) + 1 if len(used) else 1, x.shape[1], TRAIN_ROUND)]


class MixedWidthBatches(keras.utils.PyDataset):
    """Shuffled batches from reviews and from (narrower) sentence rows, each batch of one width.

    A 20-word sentence padded to a review's 2,500 positions would cost as much as a review; kept at
    its own width it costs a twentieth. Bag models accept any width, so only two shapes are traced.
    With ``trim`` (rows padded at the end), each batch is also cut to its longest row. With
    ``epochs_per_pass`` k, one shuffled pass is served as k epochs, a k-th each: a long pass then
    still reports (and validates) several times.
    """

    def __init__(
        self,
        parts: list[tuple[np.ndarray, ...]],  # (x, y) or, for every part, (x, y, sample weights)
        batch_size: int,
        seed: int,
        trim: bool = False,
        epochs_per_pass: int = 1,
    ):
        super().__init__()
        self.parts = parts
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.trim = trim
        self.epochs_per_pass = max(1, epochs_per_pass)
        self.epoch_in_pass = 0
        self._shuffle()

    def _shuffle(self) -> None:
        self.orders = [self.rng.permutation(len(part[1])) for part in self.parts]
        self.batches = [
            (index, start) for index, part in enumerate(self.parts) for start in range(0, len(part[1]), self.batch_size)
        ]
        self.rng.shuffle(self.batches)
        # Keras infers the input signature from the first few batches: put one of each width first,
        # so the signature leaves the width open instead of fixing it to whichever came up first.
        for position, part in enumerate(range(len(self.parts))):
            first = next(i for i, (p, _) in enumerate(self.batches) if p == part)
            self.batches[position], self.batches[first] = self.batches[first], self.batches[position]

    def on_epoch_end(self) -> None:
        self.epoch_in_pass = (self.epoch_in_pass + 1) % self.epochs_per_pass
        if self.epoch_in_pass == 0:
            self._shuffle()

    def __len__(self) -> int:
        return -(-len(self.batches) // self.epochs_per_pass)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        part, start = self.batches[min(self.epoch_in_pass * len(self) + index, len(self.batches) - 1)]
        x, y, *weights = self.parts[part]
        rows = self.orders[part][start : start + self.batch_size]
        return (_trimmed(x[rows], self.trim), y[rows], *(w[rows] for w in weights))


class Batches(keras.utils.PyDataset):
    """Rows in order, in batches, each cut to its longest row when ``trim``: for validating and testing."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, trim: bool = False):
        super().__init__()
        self.x, self.y, self.batch_size, self.trim = x, y, batch_size, trim

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return _trimmed(self.x[rows], self.trim), self.y[rows]


def _evaluation_data(data: EncodedImdb, size: int, batch_size: int, trim: bool):
    """The test reviews (or a fixed sample of ``size`` of them) as validation data."""
    x, y = sample(data.x_test, data.y_test, size)
    return Batches(x, y, batch_size, trim) if trim or size else (x, y)


def fit(
    model: keras.Model,
    data: EncodedImdb,
    epochs: int,
    batch_size: int,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    verbose: int | str = 0,
    recipe: recipes.Recipe | None = None,
    extra: Examples | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> tuple[dict[str, list[float]], bool]:
    """Fit with the test split (or the recipe's sample of it) as validation data; returns (history, cancelled).

    ``extra`` (rows, labels, weight), e.g. users' feedback, is trained on beside the IMDB examples,
    each of its examples counting ``weight`` times.
    """
    recipe = recipe or recipes.Recipe(model.name)
    trim = data.encoder.pads_to_longest
    progress = _Progress(epochs, on_epoch, should_stop, on_batch)
    validation = _evaluation_data(data, recipe.validation_sample, batch_size, trim)
    common = {"epochs": epochs, "validation_data": validation, "callbacks": [progress]}
    reviews = sample(data.x_train, data.y_train, recipe.review_sample)
    sentences = sample(data.x_sentences, data.y_sentences, recipe.sentence_sample)
    narrower = len(sentences[1]) and sentences[0].shape[1] < reviews[0].shape[1]
    if trim or recipe.epochs_per_pass > 1 or narrower or extra is not None:
        parts: list[tuple[np.ndarray, ...]] = [part for part in (reviews, sentences) if len(part[1])]
        if extra is not None:  # weighted: every part carries weights, 1 for the IMDB examples
            parts = [(x, y, np.ones(len(y), "float32")) for x, y in parts]
            parts.append((extra.x, extra.y, np.full(len(extra.y), extra.weight, "float32")))
        batches = MixedWidthBatches(parts, batch_size, SEED, trim, recipe.epochs_per_pass)
        if recipe.decay_to_zero:
            common["callbacks"].append(LinearDecay(len(batches) * epochs))
        history = model.fit(batches, verbose=verbose, **common)
    else:
        x, y = training_examples(data)
        history = model.fit(x, y, batch_size=batch_size, verbose=verbose, **common)
    finished = {key: [float(v) for v in values] for key, values in history.history.items()}
    if progress.cancelled:  # the interrupted epoch's figures describe half an epoch: drop them
        finished = {key: values[: progress.completed] for key, values in finished.items()}
    return finished, progress.cancelled


class _TestProgress(keras.callbacks.Callback):
    """Says how far a long test has got, every BATCH_REPORT_S (the transformer's takes over a minute)."""

    def __init__(self, on_stage: Callable[[str], None], reviews: int, batch_size: int):
        super().__init__()
        self.on_stage, self.reviews, self.batch_size = on_stage, reviews, batch_size
        self._last = time.monotonic()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self._last >= BATCH_REPORT_S:
            self._last = time.monotonic()
            done = min(self.reviews, (batch + 1) * self.batch_size)
            self.on_stage(f"testing: {done:,}/{self.reviews:,} test reviews")


def evaluate(
    model: keras.Model,
    data: EncodedImdb,
    batch_size: int = 512,
    size: int = 0,
    on_stage: Callable[[str], None] | None = None,
) -> tuple[float, float]:
    """(loss, accuracy) on the test split, or on a fixed sample of ``size`` test reviews."""
    trim = data.encoder.pads_to_longest
    batch_size = 64 if trim else batch_size  # a transformer's attention grows with the batch: keep it small
    evaluation = _evaluation_data(data, size, batch_size, trim)
    reviews = min(len(data.y_test), size or len(data.y_test))
    callbacks = [_TestProgress(on_stage, reviews, batch_size)] if on_stage else []
    if isinstance(evaluation, tuple):
        loss, accuracy = model.evaluate(*evaluation, batch_size=batch_size, verbose=0, callbacks=callbacks)
    else:
        loss, accuracy = model.evaluate(evaluation, verbose=0, callbacks=callbacks)
    return float(loss), float(accuracy)


def calibrate(
    model: keras.Model, data: EncodedImdb, recipe: recipes.Recipe, dev_scores: np.ndarray, dev_labels: np.ndarray
) -> Calibration:
    """T fitted on training reviews and sentences the recipe's samples left out; applied only if it
    lowers the expected calibration error on the short dev split.

    Only recipes that train on a sample have such examples; the others keep T = 1. Measured on the
    first minilm: T = 1.16 from the held-out examples (their sentence labels are noisy: a neutral
    sentence of a positive review is labelled positive) raised the ECE on IMDB test from 0.010 to
    0.027 and on the short dev split from 0.043 to 0.053, so the dev check matters.
    """
    trim = data.encoder.pads_to_longest
    parts = [
        held_out(data.x_train, data.y_train, recipe.review_sample, CALIBRATION_REVIEWS),
        held_out(data.x_sentences, data.y_sentences, recipe.sentence_sample, CALIBRATION_SENTENCES),
    ]
    parts = [(x, y) for x, y in parts if len(y)]
    if not parts:
        return Calibration()
    scores = np.concatenate([_scores(model, x, trim) for x, _ in parts])
    labels = np.concatenate([y for _, y in parts])
    fitted = fit_temperature(scores, labels)
    before = expected_calibration_error(dev_scores, dev_labels)
    after = expected_calibration_error(with_temperature(dev_scores, fitted), dev_labels)
    return Calibration(fitted, len(labels), (round(before, 4), round(after, 4)), fitted if after < before else 1.0)


def train(
    data: EncodedImdb,
    arch: str = "tutorial",
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = SEED,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    verbose: int | str = 0,
    feedback: tuple[list[str], list[int]] | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Build, fit and evaluate; a cancelled run skips evaluation and says so.

    ``feedback`` (texts, labels from users) is trained on with weight FEEDBACK_WEIGHT and scored
    separately afterwards; it never enters the test figures the quality gate reads.
    """
    recipe = recipes.recipe(arch)
    chosen = recipe.resolve(epochs, batch_size)
    epochs, batch_size = chosen.epochs, chosen.batch_size
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model = build_model(arch, data, seed)
    extra = None
    if feedback is not None and feedback[0]:
        extra = Examples.encode(data, *feedback, FEEDBACK_WEIGHT, recipe.sentence_width)
    history, cancelled = fit(
        model, data, epochs, batch_size, on_epoch, should_stop, verbose, recipe, extra, on_batch=on_batch
    )
    seconds["fit"] = round(time.perf_counter() - started, 3)
    outcome = TrainOutcome(
        model=model,
        arch=arch,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        history=history,
        cancelled=cancelled,
        sentences=min(len(data.y_sentences), recipe.sentence_sample or len(data.y_sentences)),
        test_reviews=min(len(data.y_test), recipe.test_sample or len(data.y_test)),
        seconds=seconds,
    )
    stage = on_stage or (lambda name: None)
    if not cancelled:
        stage(f"testing on {outcome.test_reviews:,} test reviews")
        started = time.perf_counter()
        outcome.test_loss, outcome.test_accuracy = evaluate(model, data, size=recipe.test_sample, on_stage=stage)
        seconds["evaluate"] = round(time.perf_counter() - started, 3)
        stage("calibrating and scoring the short dev split")
        started = time.perf_counter()
        dev_scores, dev_labels = short_dev_scores(model, data)
        outcome.calibration = calibrate(model, data, recipe, dev_scores, dev_labels)
        seconds["calibrate"] = round(time.perf_counter() - started, 3)
        outcome.short_dev_accuracy = round(float(np.mean((dev_scores >= 0.5) == (dev_labels == 1))), 4)
        if extra is not None:
            hits = _scores(model, extra.x, data.encoder.pads_to_longest) >= 0.5
            outcome.feedback = {
                "examples": len(extra.y),
                "weight": extra.weight,
                "accuracy": round(float(np.mean(hits == (extra.y == 1))), 4),
            }
    return outcome


def _scores(model: keras.Model, x: np.ndarray, trim: bool) -> np.ndarray:
    """The model's P(positive) for rows, 64 at a time."""
    parts = [
        np.asarray(model.predict_on_batch(_trimmed(x[i : i + 64], trim))).reshape(-1) for i in range(0, len(x), 64)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def short_dev_scores(model: keras.Model, data: EncodedImdb) -> tuple[np.ndarray, np.ndarray]:
    """The model's scores and the labels of the short dev split: the gate reads its accuracy, the
    calibration check its ECE."""
    dev = load_short_reviews("dev")
    scores = _scores(model, data.encoder.encode([e.text for e in dev]), data.encoder.pads_to_longest)
    return scores, np.array([e.label for e in dev])


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
