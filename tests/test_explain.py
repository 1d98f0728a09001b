"""Explanations: which words moved the score, deterministic, safe for any length."""

from __future__ import annotations

from model.explain import explain
from model.predict import label_for


def test_the_top_positive_word_raises_the_score(predictor):
    """Removing the word with the largest positive effect lowers the score."""
    text = "the plot was a superb and brilliant story"
    effects = explain(predictor, text)
    best = max(effects, key=lambda e: e.effect)
    assert best.word in {"superb", "brilliant"} and best.effect > 0
    without = " ".join(w for w in text.split() if w != best.word)
    assert predictor.predict([without])[0].score < predictor.predict([text])[0].score


def test_explanations_are_deterministic(predictor):
    """The same text and model give the same explanation."""
    text = "awful boring mess but a touching scene"
    assert explain(predictor, text) == explain(predictor, text)


def test_empty_one_word_and_very_long_texts(predictor):
    """Nothing to explain is an empty list; one word is itself; long texts are fine."""
    assert explain(predictor, "") == [] and explain(predictor, "?!") == []
    assert [e.word for e in explain(predictor, "superb")] == ["superb"]
    long_effects = explain(predictor, "the movie was dull and awful " * 2000, top=3)
    assert len(long_effects) == 3
    assert label_for(predictor.predict(["superb"])[0].score) == "positive"


def test_predict_cli_explain(predictor, bundle_path, capsys, tmp_path, monkeypatch):
    """`sentibot predict --explain` adds the words that moved the score."""
    import json

    from sentibot.cli import main

    monkeypatch.setenv("SENTIBOT_HOME", str(tmp_path))
    assert main(["predict", "--model", str(bundle_path), "--explain", "superb but dull"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert {w["word"] for w in row["why"]} <= {"superb", "but", "dull"} and row["why"]


def test_bag_models_explain_words_with_their_phrases(fasttext_bundle):
    """For the fastText model, leaving a word out also drops its bigrams; the top negative word lowers the score."""
    from model.predict import Predictor

    predictor = Predictor(fasttext_bundle)
    text = "the story was dull and the acting was a mess"
    effects = explain(predictor, text)
    worst = min(effects, key=lambda e: e.effect)
    assert worst.word in {"dull", "mess"} and worst.effect < 0
    without = " ".join(w for w in text.split() if w != worst.word)
    assert predictor.predict([without])[0].score > predictor.predict([text])[0].score
    assert explain(predictor, text) == effects
    assert explain(predictor, "") == [] and len(explain(predictor, "superb film " * 3000, top=2)) == 2
