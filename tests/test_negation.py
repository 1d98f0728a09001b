"""Negation sentences are drawn as often from positive reviews as from negative ones (model/negation.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model import architectures, negation, recipes, train
from model.data import EncodedImdb


@pytest.fixture(scope="module")
def encoder():
    return architectures.default_encoder("minilm")


def test_a_negation_word_or_an_n_t_marks_a_sentence_and_lookalikes_do_not(encoder):
    texts = [
        "I couldn't take my eyes off the screen.",
        "Not a single boring minute.",
        "Nothing on the menu disappointed us.",
        "Never again.",
        "A note on the acting: superb.",  # "note" is not "not"
        "Tina's tea was great.",  # an apostrophe, but no "n't"
        "Loved it.",
    ]
    assert negation.says_no(encoder.encode(texts), encoder).tolist() == [True] * 4 + [False] * 3


def test_the_more_common_label_is_thinned_among_negations_only_and_rows_keep_their_order():
    y = np.array([0, 0, 0, 0, 1, 1, 0, 1, 1, 0])
    negated = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)  # 4 negative, 1 positive negation rows
    x = np.arange(len(y))[:, None]
    kept_x, kept_y = negation.balanced(x, y, negated, seed=3)
    kept = kept_x[:, 0]
    assert np.all(np.diff(kept) > 0)  # in order
    assert set(range(4, 10)) <= set(kept.tolist())  # every row without a negation, and the rare label's
    assert len(kept) == 7 and kept_y[np.isin(kept, np.flatnonzero(negated))].tolist().count(0) == 1
    again = negation.balanced(x, y, negated, seed=3)[0]
    assert np.array_equal(again, kept_x)  # seeded


def test_a_recipe_that_asks_trains_on_a_pool_where_negation_says_nothing_of_the_label(encoder):
    """Of these 8 sentences 4 negate, 3 from negative reviews: the pool keeps one of those 3."""
    negated = ["It's not good.", "I didn't like it.", "Never again.", "Not a dull moment."]
    texts, labels = [*negated, "Great.", "Bad.", "Fine.", "Ok."], np.array([0, 0, 0, 1, 1, 0, 1, 0])
    rows = encoder.encode(texts, 64)
    empty = np.zeros((0, rows.shape[1]), "int32")
    none = np.zeros(0, "int32")
    data = EncodedImdb(empty, none, empty, none, rows, labels, encoder=encoder, fingerprint="test")
    plain = dataclasses.replace(recipes.recipe("minilm"), negation_balanced=False)
    asked = dataclasses.replace(plain, negation_balanced=True)
    assert len(train.sentence_pool(data, plain)[1]) == 8
    x, y = train.sentence_pool(data, asked)
    said_no = negation.says_no(x, encoder)
    assert len(y) == 6 and y[said_no].tolist().count(0) == y[said_no].tolist().count(1) == 1
