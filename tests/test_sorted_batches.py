"""Scoring a whole file: length-sorted batches sized for the model, results in upload order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from model import architectures, bundle, minilm
from model.predict import PIECE_BATCH, Predictor
from model.sorted_batches import BatchShape, length_sorted_batches

TINY = minilm.BertConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=512)
TEXTS = [
    "a superb touching film",
    "an awful boring mess, " * 40,
    "fine",
    "I wanted to love it but the pacing killed every scene and the ending dragged on forever.",
    "Two hours of my life I will never get back.",
    "Not bad at all.",
    "x " * 300,
] * 7


def test_batches_cover_every_row_once_within_the_budget():
    """Every index exactly once, shortest first; rows x widest (rounded) within the budget, powers of two."""
    widths = [random.Random(i).randint(3, 256) for i in range(2000)]
    shape = BatchShape(pieces=4096, rows=256, round_to=16)
    batches = length_sorted_batches(widths, shape)
    assert sorted(i for batch in batches for i in batch) == list(range(2000))
    for batch in batches:
        widest = -(-max(widths[i] for i in batch) // 16) * 16
        assert len(batch) <= 256
        assert len(batch) * widest <= 4096 or len(batch) == 1
    flat = [widths[i] for batch in batches for i in batch]
    assert flat == sorted(flat)
    assert length_sorted_batches([], shape) == []


def test_one_liners_are_not_padded_to_the_longest_review():
    """1,000 one-liners and 10 long reviews: the one-liners share narrow batches (the old chunks padded all
    1,010 rows to the longest)."""
    widths = [12] * 1000 + [256] * 10
    batches = length_sorted_batches(widths, PIECE_BATCH)
    padded = sum(len(b) * max(widths[i] for i in b) for b in batches)
    assert padded < 0.1 * len(widths) * 256


@pytest.fixture(scope="module")
def tiny_transformer() -> Predictor:
    """The minilm architecture at a tiny size with random weights: the same encoder, layers and serving code."""
    encoder = architectures.default_encoder("minilm")
    model = architectures.build_minilm(encoder, config=TINY, pretrained=False)
    return Predictor(bundle.Bundle(model, encoder, {"version": "tiny", "arch": "minilm"}))


def test_predict_many_matches_predict_in_upload_order_for_the_transformer(tiny_transformer):
    """Sorted, batched and put back: each row's verdict is the one it gets alone (padding is masked out)."""
    alone = [tiny_transformer.predict([text])[0] for text in TEXTS]
    progress: list[int] = []
    many = tiny_transformer.predict_many(TEXTS, on_batch=lambda done, seconds: progress.append(done))
    assert [p.truncated for p in many] == [p.truncated for p in alone]
    assert [p.words for p in many] == [p.words for p in alone]
    np.testing.assert_allclose([p.score for p in many], [p.score for p in alone], atol=2e-5)
    assert progress == sorted(progress) and progress[-1] == len(TEXTS)


def test_predict_many_matches_predict_for_the_tutorial_model(predictor):
    """The sequence layout (fixed width) keeps its scores too."""
    alone = predictor.predict(TEXTS)
    many = predictor.predict_many(TEXTS)
    np.testing.assert_allclose([p.score for p in many], [p.score for p in alone], atol=1e-6)
    assert [p.label for p in many] == [p.label for p in alone]


def test_predict_many_matches_predict_for_a_bag_model():
    """nbsvm reads rows as wide as the batch's longest bag instead of 2,500: same scores."""
    from model.encoding import TextEncoder, tokenize
    from model.recipes import recipe

    words = tuple(sorted({w for text in TEXTS for w in tokenize(text)}))
    encoder = TextEncoder(words, **recipe("nbsvm").encoder_settings())
    model = architectures.build("nbsvm", encoder)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    bag = Predictor(bundle.Bundle(model, encoder, {"version": "bag", "arch": "nbsvm"}))
    alone = bag.predict(TEXTS)
    many = bag.predict_many(TEXTS)
    np.testing.assert_allclose([p.score for p in many], [p.score for p in alone], atol=1e-6)
    assert len({p.score for p in alone}) > 3  # the weights are not trivial
