"""The hand-written one-sentence reviews in model/short_reviews.tsv, and the helpers that score and calibrate."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from model.calibration import expected_calibration_error, fit_temperature, with_temperature
from model.evaluation import accuracy, interval95, latency_ms, load_short_reviews


def test_the_short_review_set_is_large_balanced_and_split_once():
    """808 distinct reviews: half films, half other things, half positive, in equal dev and test halves."""
    examples = load_short_reviews()
    assert len(examples) >= 800
    assert len({e.text.lower() for e in examples}) == len(examples)
    dev, test = load_short_reviews("dev"), load_short_reviews("test")
    assert len(dev) + len(test) == len(examples) and not {e.text for e in dev} & {e.text for e in test}
    for split in (dev, test):
        films = [e for e in split if e.domain == "film"]
        assert Counter(e.label for e in split) == {0: len(split) // 2, 1: len(split) // 2}
        assert len(films) == len(split) // 2
        assert {e.domain for e in split} >= {"film", "product", "restaurant", "app", "book"}


def test_the_short_review_set_holds_the_hard_cases_on_both_sides():
    """Negation, contrast, faint praise, sarcasm, typos, slang and emoji, each with both labels in each split."""
    for split in ("dev", "test"):
        kinds = Counter((e.kind, e.label) for e in load_short_reviews(split))
        for kind in ("negation", "contrast", "mild", "question", "typo", "slang", "emoji", "sarcasm"):
            assert kinds[kind, 0] >= 3 and kinds[kind, 1] >= 3, kind
        assert kinds["faint", 0] >= 8  # "the best thing about it was the popcorn"


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="dev"):
        load_short_reviews("train")


def test_accuracy_and_latency_on_a_trained_model(predictor):
    """The helpers score in one batch and time one review at a time."""
    examples = load_short_reviews("dev")[:40]
    verdicts = predictor.predict([e.text for e in examples])
    right = sum((v.label == "positive") == (e.label == 1) for v, e in zip(verdicts, examples, strict=True))
    assert accuracy(predictor, examples) == right / len(examples)
    flipped = [dataclasses.replace(e, label=1 - e.label) for e in examples]
    assert accuracy(predictor, flipped) == pytest.approx(1 - right / len(examples))
    assert latency_ms(predictor, ["great film"], repeats=5) > 0


def test_the_interval_narrows_with_more_examples_and_stays_in_bounds():
    low, high = interval95(0.8, 400)
    assert 0.75 < low < 0.8 < high < 0.85
    assert interval95(0.8, 4000)[1] - interval95(0.8, 4000)[0] < high - low
    assert interval95(1.0, 10) == (pytest.approx(0.7225, abs=1e-3), pytest.approx(1.0))


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20_000)
    right = rng.uniform(size=confidence.size) < confidence  # right exactly as often as it claims
    labels = np.where(right, 1, 0)
    assert expected_calibration_error(confidence, labels) < 0.02
    overconfident = np.full(1000, 0.99)
    assert expected_calibration_error(overconfident, np.r_[np.ones(700), np.zeros(300)]) == pytest.approx(0.29)


def test_temperature_scaling_recovers_a_known_temperature_and_keeps_verdicts():
    """Scores made three times too sharp are softened by T≈3, and no verdict flips."""
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 20_000)
    labels = (rng.uniform(size=true_logits.size) < 1 / (1 + np.exp(-true_logits))).astype(int)
    sharp = 1 / (1 + np.exp(-3 * true_logits))
    temperature = fit_temperature(sharp, labels)
    assert 2.7 < temperature < 3.3
    softened = with_temperature(sharp, temperature)
    assert np.array_equal(softened >= 0.5, sharp >= 0.5)
    assert expected_calibration_error(softened, labels) < expected_calibration_error(sharp, labels)
