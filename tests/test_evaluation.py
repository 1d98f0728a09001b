"""The hand-written one-sentence reviews in model/short_reviews.tsv, and the helpers that score a model on them."""

from __future__ import annotations

from collections import Counter

from model.encoding import tokenize
from model.evaluation import accuracy, latency_ms, load_short_reviews


def test_the_short_review_set_is_large_balanced_and_varied():
    """At least 300 distinct one-sentence reviews, half positive, movies and other products, 1 to 20+ words."""
    examples = load_short_reviews()
    assert len(examples) >= 300
    assert len({e.text for e in examples}) == len(examples)
    assert Counter(e.label for e in examples) == {0: len(examples) // 2, 1: len(examples) // 2}
    assert {e.domain for e in examples} == {"movie", "product"}
    lengths = [len(tokenize(e.text)) for e in examples]
    assert min(lengths) == 1 and max(lengths) >= 12


def test_the_short_review_set_has_negation_both_ways():
    """'not bad at all' is positive and 'not good at all' is negative: both kinds are in the set."""
    negations = ("not", "n't", "never", "no ", "nothing")
    examples = load_short_reviews()
    negated = [e for e in examples if any(n in e.text.lower() for n in negations)]
    assert Counter(e.label for e in negated)[1] >= 20 and Counter(e.label for e in negated)[0] >= 20


def test_accuracy_and_latency_on_a_trained_model(predictor):
    """The helpers score in one batch and time one review at a time."""
    examples = load_short_reviews()
    share = accuracy(predictor, examples)
    assert 0.0 <= share <= 1.0
    assert accuracy(predictor, [e for e in examples if e.text == "Wonderful."]) in (0.0, 1.0)
    assert latency_ms(predictor, ["great film"], repeats=5) > 0


def test_compare_models_refuses_an_unknown_architecture_before_training():
    """The bench names the bad argument and the valid ones, and exits without loading any data."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "compare_models.py"
    done = subprocess.run(
        [sys.executable, str(script), "--arch", "bert+sentences", "--data", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown architecture 'bert+sentences'" in done.stderr and "nbsvm" in done.stderr
    assert "Traceback" not in done.stderr
