"""Sentences that say least about their review are left out of the fine-tuning pool (model/neutral.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model import architectures, neutral, recipes, train
from model.data import EncodedImdb


@pytest.fixture(scope="module")
def encoder():
    return architectures.default_encoder("minilm")


REVIEWS = [
    ("a wonderful film, wonderful acting, I loved it", 1),
    ("wonderful and moving, loved every minute", 1),
    ("an awful film, awful acting, I hated it", 0),
    ("awful and boring, hated every minute", 0),
]


def _ratios(encoder):
    x = encoder.encode([text for text, _ in REVIEWS], 64)
    y = np.array([label for _, label in REVIEWS])
    return neutral.piece_ratios(x, y, encoder.input_dim, encoder.special_ids)


def test_pieces_of_one_label_weigh_that_way_and_markers_weigh_nothing(encoder):
    ratios = _ratios(encoder)
    (wonderful,), (awful,) = (
        [i for i in row if i and i not in encoder.special_ids]
        for row in encoder.encode(["wonderful", "awful"], 8).tolist()
    )
    assert ratios[wonderful] > 0 > ratios[awful]
    assert not ratios[sorted(encoder.special_ids)].any()


def test_a_sentence_with_an_opinion_is_stronger_than_one_that_tells_the_plot(encoder):
    ratios = _ratios(encoder)
    rows = encoder.encode(["The film was shot in Ohio.", "Wonderful, I loved it.", "Awful, I hated it."], 64)
    plot, praise, scorn = neutral.strength(rows, ratios)
    assert praise > plot and scorn > plot  # strength has no sign: both opinions are kept


def test_a_repeated_piece_counts_once_and_padding_not_at_all(encoder):
    ratios = _ratios(encoder)
    once, twice = neutral.strength(encoder.encode(["wonderful", "wonderful wonderful"], 16), ratios)
    assert twice == pytest.approx(once * np.sqrt(3) / 2)  # the same sum over 4 pieces (markers too) instead of 3
    narrow, wide = (neutral.strength(encoder.encode(["loved it"], width), ratios)[0] for width in (8, 32))
    assert narrow > 0 and narrow == pytest.approx(wide)


def test_the_weakest_fraction_goes_and_the_rest_keep_their_order():
    ratios = np.array([0.0, 2.0, -2.0, 0.1, -0.1], "float32")
    x = np.array([[1, 1, 0], [3, 0, 0], [2, 2, 0], [4, 3, 0], [1, 2, 0], [3, 4, 0]])
    y = np.arange(6) % 2
    kept_x, kept_y = neutral.without_neutral(x, y, ratios, 0.5)
    assert kept_x.tolist() == [[1, 1, 0], [3, 0, 0], [2, 2, 0]]
    assert kept_y.tolist() == [0, 1, 0]
    assert neutral.without_neutral(x, y, ratios, 0.0)[0] is x  # off: the pool untouched


def test_a_recipe_that_asks_trains_on_a_pool_without_its_plot_sentences(encoder):
    reviews = encoder.encode([text for text, _ in REVIEWS], 256)
    labels = np.array([label for _, label in REVIEWS])
    texts = ["Wonderful, loved it.", "Awful, hated it.", "It was shot in Ohio.", "The cast met in May."]
    rows = encoder.encode(texts, 64)
    none = np.zeros(0, "int32")
    data = EncodedImdb(
        reviews, labels, reviews[:0], none, rows, np.array([1, 0, 1, 0]), encoder=encoder, fingerprint="test"
    )
    plain = recipes.recipe("minilm")
    asked = dataclasses.replace(plain, neutral_dropped=0.5)
    assert len(train.sentence_pool(data, plain)[1]) == 4
    x, y = train.sentence_pool(data, asked)
    assert x.tolist() == rows[:2].tolist() and y.tolist() == [1, 0]
