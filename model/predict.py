"""Serving: score texts with a loaded bundle, many at once when many wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from model.blend import PARTS, BlendRule
from model.bundle import BlendBundle, Bundle
from model.calibration import logits, with_temperature
from model.encoding import Encoded
from model.rows import PIECE_ROUND
from model.sorted_batches import BatchShape, length_sorted_batches

# Batches for scoring many texts (a file), per layout; measured with bench/file_throughput.py.
# The transformer: ~8,192 word pieces a batch (e.g. 512 one-liners at width 16, 32 reviews at 256).
PIECE_BATCH = BatchShape(pieces=8192, rows=512, round_to=PIECE_ROUND)
# Bag and sequence models: a batch is cheap whatever its width; 1,024 rows amortise the call.
ROW_BATCH = BatchShape(pieces=1024 * 2500, rows=1024)
SORT_WINDOW = 8192  # rows of a file encoded and sorted together


@dataclass(frozen=True)
class Prediction:
    """One verdict plus what a reply needs to explain it."""

    label: str  # "positive" or "negative"
    score: float  # probability of positive
    words: int  # words in the text
    known: int  # words in the model's vocabulary
    truncated: bool  # True when the model could not read all of the text

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def label_for(score: float) -> str:
    """The verdict for a probability of positive."""
    return "positive" if score >= 0.5 else "negative"


class CompiledForward:
    """The model's forward pass compiled with XLA, for the transformer: a one-line review scores in ~7 ms
    here instead of ~11.5 ms through ``predict_on_batch`` (op-by-op dispatch dominates at batch 1).

    XLA compiles once per input shape (~1.5 s), so batches are padded to a power-of-two number of rows
    (rows of padding are all 0 and masked out); word-piece widths are already multiples of 16. Each
    shape's concrete function is kept and called directly: ``tf.function``'s own dispatch (matching the
    call to a traced signature) cost ~1.3 ms of a one-liner's ~7 ms.
    """

    def __init__(self, model) -> None:
        import tensorflow as tf

        self._tf = tf
        self._forward = tf.function(lambda ids: model(ids, training=False), jit_compile=True)
        self._by_shape: dict[tuple[int, int], Callable] = {}

    def _compiled_for(self, shape: tuple[int, int]) -> Callable:
        forward = self._by_shape.get(shape)
        if forward is None:
            spec = self._tf.TensorSpec(shape, self._tf.int32)
            forward = self._by_shape[shape] = self._forward.get_concrete_function(spec)
        return forward

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows = len(x)
        padded = 1 << max(0, (rows - 1).bit_length())
        if padded != rows:
            x = np.concatenate([x, np.zeros((padded - rows, x.shape[1]), x.dtype)])
        out = self._compiled_for(x.shape)(self._tf.constant(x, dtype=self._tf.int32))
        return np.asarray(out, dtype=np.float64).reshape(-1)[:rows]


class Predictor:
    """Wraps a bundle; ``predict_on_batch`` avoids ``model.predict``'s ~50 ms per-call overhead, and the
    transformer runs XLA-compiled (:class:`CompiledForward`)."""

    WARM_TEXTS = ("warm up", "a one-line review of a film that is about as long as most chat messages are")

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._compiled = CompiledForward(bundle.model) if bundle.encoder.pads_to_longest else None
        for text in self.WARM_TEXTS:  # build (compile) the common shapes now, not on the first users' messages
            self.predict([text])

    @property
    def version(self) -> str:
        """Version of the bundle being served."""
        return self.bundle.version

    @property
    def temperature(self) -> float:
        """The bundle's fitted temperature (1: none was fitted)."""
        return float(self.bundle.meta.get("temperature") or 1.0)

    def raw_scores(self, x: np.ndarray, compiled: bool = True) -> np.ndarray:
        """The model's own P(positive) for a batch of rows, before calibration.

        ``compiled=False`` skips XLA for the transformer: a file's batches come in many shapes, each of
        which XLA would compile first (~1.5 s), while at a few thousand pieces a batch Keras's own call
        is as fast (bench/file_throughput.py).
        """
        if self._compiled is not None and compiled:
            return self._compiled(x)
        return np.asarray(self.bundle.model.predict_on_batch(x), dtype=np.float64).reshape(-1)

    def scores(self, x: np.ndarray, compiled: bool = True) -> np.ndarray:
        """Calibrated P(positive) for a batch of rows: the logits divided by the bundle's temperature."""
        raw = self.raw_scores(x, compiled)
        return raw if self.temperature == 1.0 else with_temperature(raw, self.temperature)

    @property
    def batch_shape(self) -> BatchShape:
        """How :meth:`predict_many` cuts a file into batches for this model."""
        return PIECE_BATCH if self.bundle.encoder.pads_to_longest else ROW_BATCH

    def sorted_scores(
        self, id_lists: Sequence[Sequence[int]], on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Calibrated scores of many encoded texts, in their order, scored in length-sorted batches
        (model/sorted_batches.py) that are not XLA-compiled (a file's batches come in many shapes).
        ``on_batch(rows)`` hears each batch's size."""
        encoder = self.bundle.encoder
        widths = [encoder.row_width(ids) for ids in id_lists]
        found = np.zeros(len(id_lists))
        for batch in length_sorted_batches(widths, self.batch_shape):
            x = encoder.rows([id_lists[i] for i in batch], width=max(1, max(widths[i] for i in batch)))
            found[batch] = self.scores(x, compiled=False)
            if on_batch is not None:
                on_batch(len(batch))
        return found

    def predict_many(
        self, texts: Sequence[str], on_batch: Callable[[int, float], None] | None = None
    ) -> list[Prediction]:
        """Verdicts for many texts (a file), in their order, scored in length-sorted batches.

        The texts are taken ``SORT_WINDOW`` at a time, so memory stays bounded for any file (a
        100,000-review file would otherwise hold every review's ids at once). ``on_batch(done,
        seconds)`` is called after each batch with the rows scored so far and the seconds since
        scoring began (the caller publishes progress from it).
        """
        encoder = self.bundle.encoder
        out: list[Prediction] = []
        batch_done = _rows_done(on_batch)
        for start in range(0, len(texts), SORT_WINDOW):
            encoded = encoder.analyse_many(texts[start : start + SORT_WINDOW])
            found = self.sorted_scores([e.ids for e in encoded], batch_done)
            out.extend(_prediction(p, e) for p, e in zip(found, encoded, strict=True))
        return out

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Verdicts for ``texts``, scored in one model call."""
        encoded = [self.bundle.encoder.analyse(text) for text in texts]
        x = self.bundle.encoder.rows([e.ids for e in encoded])
        probabilities = self.scores(x) if len(texts) else np.zeros(0)
        return [_prediction(p, e) for p, e in zip(probabilities, encoded, strict=True)]


def _rows_done(on_batch: Callable[[int, float], None] | None) -> Callable[[int], None]:
    """A batch listener that tells ``on_batch`` (rows scored so far, seconds since scoring began)."""
    started, done = time.perf_counter(), 0

    def batch_done(rows: int) -> None:
        nonlocal done
        done += rows
        if on_batch is not None:
            on_batch(done, time.perf_counter() - started)

    return batch_done


def _prediction(score: float, encoded: Encoded) -> Prediction:
    return Prediction(label_for(score), round(float(score), 6), encoded.words, encoded.known, encoded.truncated)


class BlendPredictor:
    """A blend's parts, each served by its own :class:`Predictor`, mixed by the bundle's rule (model/blend.py).

    nbsvm reads every text; MiniLM only those the rule sends it (short ones, and long ones nbsvm is not
    sure about), so a full review nbsvm is sure of costs what nbsvm costs.
    """

    def __init__(self, loaded: BlendBundle) -> None:
        self.bundle = loaded
        self.rule = BlendRule.from_dict(loaded.meta["rule"])
        self.nbsvm, self.minilm = (Predictor(loaded.parts[name]) for name in PARTS)

    @property
    def version(self) -> str:
        """Version of the blend being served."""
        return self.bundle.version

    def _mixed(
        self, texts: Sequence[str], many: bool = False, on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, list[Encoded], np.ndarray]:
        """(P(positive) of each text, nbsvm's reading of each, which ones MiniLM read)."""
        first, second = self.nbsvm.bundle.encoder, self.minilm.bundle.encoder
        read = first.analyse_many(texts)
        pieces = second.analyse_many(texts)
        if many:
            bag = logits(self.nbsvm.sorted_scores([e.ids for e in read]))
        else:
            bag = logits(self.nbsvm.scores(first.rows([e.ids for e in read]))) if texts else np.zeros(0)
        lengths = np.array([len(e.ids) for e in pieces])
        needed = self.rule.needs_minilm(bag, lengths)
        if on_batch is not None:
            on_batch(int((~needed).sum()))  # decided by nbsvm alone
        transformer = np.full(len(texts), np.nan)
        chosen = [pieces[i].ids for i in np.flatnonzero(needed)]
        if chosen:
            found = self.minilm.sorted_scores(chosen, on_batch) if many else self.minilm.scores(second.rows(chosen))
            transformer[needed] = logits(found)
        return 1.0 / (1.0 + np.exp(-self.rule.mix(bag, transformer, lengths))), read, needed

    def text_scores(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) of each text (Why? scores its variants with this)."""
        return self._mixed(texts)[0]

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Verdicts for a few texts (chat): each part scores them in one call."""
        scores, read, _ = self._mixed(texts)
        return [_prediction(p, e) for p, e in zip(scores, read, strict=True)]

    def predict_many(
        self, texts: Sequence[str], on_batch: Callable[[int, float], None] | None = None
    ) -> list[Prediction]:
        """Verdicts for many texts (a file), in their order, ``SORT_WINDOW`` at a time (as a single model's)."""
        out: list[Prediction] = []
        batch_done = _rows_done(on_batch)
        for start in range(0, len(texts), SORT_WINDOW):
            scores, read, _ = self._mixed(texts[start : start + SORT_WINDOW], many=True, on_batch=batch_done)
            out.extend(_prediction(p, e) for p, e in zip(scores, read, strict=True))
        return out


def predictor_for(loaded: Bundle | BlendBundle) -> Predictor | BlendPredictor:
    """The predictor that serves a loaded bundle: a blend's, or a single model's."""
    return BlendPredictor(loaded) if isinstance(loaded, BlendBundle) else Predictor(loaded)


AnyPredictor = Predictor | BlendPredictor  # what serving code holds: it calls version, predict and predict_many
