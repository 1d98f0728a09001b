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
from model.data import EncodedImdb
from model.encoding import WORDPIECE, rounded_width

SEED = 1337  # fixed so two runs agree
STOP_POLL_S = 0.5  # how often the stop request is checked while fitting


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
    test_accuracy: float | None = None
    test_loss: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Number of model parameters."""
        return int(self.model.count_params())


class _Progress(keras.callbacks.Callback):
    """Forwards epoch metrics to a plain function and stops between batches on request."""

    def __init__(
        self, epochs: int, on_epoch: Callable[[EpochReport], None] | None, should_stop: Callable[[], bool] | None
    ):
        super().__init__()
        self.epochs = epochs
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        self.cancelled = False
        self.completed = 0  # epochs that ran to the end (an interrupted one still gets validated by Keras)
        self._epoch_start = 0.0
        self._last_poll = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
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


def _trimmed(x: np.ndarray, trim: bool) -> np.ndarray:
    """Rows padded at the end lose the columns no row in the batch uses (rounded up: few traced shapes)."""
    if not trim or not len(x):
        return x
    used = np.flatnonzero(x.any(axis=0))
    return x[:, : rounded_width(int(used[-1]) + 1 if len(used) else 1, x.shape[1])]


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
        parts: list[tuple[np.ndarray, np.ndarray]],
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
        self.orders = [self.rng.permutation(len(y)) for _, y in self.parts]
        self.batches = [
            (part, start) for part, (_, y) in enumerate(self.parts) for start in range(0, len(y), self.batch_size)
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

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part, start = self.batches[min(self.epoch_in_pass * len(self) + index, len(self.batches) - 1)]
        x, y = self.parts[part]
        rows = self.orders[part][start : start + self.batch_size]
        return _trimmed(x[rows], self.trim), y[rows]


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
) -> tuple[dict[str, list[float]], bool]:
    """Fit with the test split (or the recipe's sample of it) as validation data; returns (history, cancelled)."""
    recipe = recipe or recipes.Recipe(model.name)
    trim = data.encoder.layout == WORDPIECE
    progress = _Progress(epochs, on_epoch, should_stop)
    validation = _evaluation_data(data, recipe.validation_sample, batch_size, trim)
    common = {"epochs": epochs, "validation_data": validation, "callbacks": [progress]}
    reviews = sample(data.x_train, data.y_train, recipe.review_sample)
    sentences = sample(data.x_sentences, data.y_sentences, recipe.sentence_sample)
    if trim or recipe.epochs_per_pass > 1 or (len(sentences[1]) and sentences[0].shape[1] < reviews[0].shape[1]):
        parts = [part for part in (reviews, sentences) if len(part[1])]
        batches = MixedWidthBatches(parts, batch_size, SEED, trim, recipe.epochs_per_pass)
        history = model.fit(batches, verbose=verbose, **common)
    else:
        x, y = training_examples(data)
        history = model.fit(x, y, batch_size=batch_size, verbose=verbose, **common)
    finished = {key: [float(v) for v in values] for key, values in history.history.items()}
    if progress.cancelled:  # the interrupted epoch's figures describe half an epoch: drop them
        finished = {key: values[: progress.completed] for key, values in finished.items()}
    return finished, progress.cancelled


def evaluate(model: keras.Model, data: EncodedImdb, batch_size: int = 512, size: int = 0) -> tuple[float, float]:
    """(loss, accuracy) on the test split, or on a fixed sample of ``size`` test reviews."""
    trim = data.encoder.layout == WORDPIECE
    batch_size = 64 if trim else batch_size  # a transformer's attention grows with the batch: keep it small
    evaluation = _evaluation_data(data, size, batch_size, trim)
    if isinstance(evaluation, tuple):
        loss, accuracy = model.evaluate(*evaluation, batch_size=batch_size, verbose=0)
    else:
        loss, accuracy = model.evaluate(evaluation, verbose=0)
    return float(loss), float(accuracy)


def train(
    data: EncodedImdb,
    arch: str = "tutorial",
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = SEED,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    verbose: int | str = 0,
) -> TrainOutcome:
    """Build, fit and evaluate; a cancelled run skips evaluation and says so."""
    recipe = recipes.recipe(arch)
    chosen = recipe.resolve(epochs, batch_size)
    epochs, batch_size = chosen.epochs, chosen.batch_size
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model = build_model(arch, data, seed)
    history, cancelled = fit(model, data, epochs, batch_size, on_epoch, should_stop, verbose, recipe)
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
    if not cancelled:
        started = time.perf_counter()
        outcome.test_loss, outcome.test_accuracy = evaluate(model, data, size=recipe.test_sample)
        seconds["evaluate"] = round(time.perf_counter() - started, 3)
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
