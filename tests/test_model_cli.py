"""`sentibot train | predict | decode` as a person runs them."""

from __future__ import annotations

import json

import pytest

from sentibot.cli import main

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private SENTIBOT_HOME for each test."""
    monkeypatch.setenv("SENTIBOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IMDB_DATA", raising=False)
    return tmp_path / "home"


def test_train_writes_bundle_and_chart_and_ends_with_json(home, imdb_tarball, capsys):
    """--json's last line describes the run; the bundle and the chart exist."""
    args = ["train", "--data", str(imdb_tarball), "--arch", "tutorial", "--epochs", "1", "--batch-size", "64"]
    assert main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["arch"] == "tutorial" and summary["params"] == 576_305
    assert len(summary["history"]["accuracy"]) == 1 and 0 <= summary["test_accuracy"] <= 1
    assert summary["seconds"] > 0
    assert summary["bundle"].startswith(str(home / "bundles"))
    assert "Test accuracy" in out and "epoch  accuracy" in out
    from pathlib import Path

    assert Path(summary["bundle"]).exists() and Path(summary["chart"]).read_bytes()[:4] == b"\x89PNG"


def test_train_out_dir_and_imdb_data_env(home, imdb_dir, tmp_path, monkeypatch, capsys):
    """IMDB_DATA is the default data path, DEFAULT_ARCH (the suite sets nbsvm) the architecture, --out the directory."""
    monkeypatch.setenv("IMDB_DATA", str(imdb_dir))
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "out"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["bundle"].startswith(str(tmp_path / "out"))
    assert summary["arch"] == "nbsvm" and summary["sentence_examples"] == 0


def test_train_with_sentence_examples(home, imdb_dir, capsys):
    """--sentences adds the training reviews' sentences as examples; the summary counts them."""
    assert main(["train", "--data", str(imdb_dir), "--arch", "pooled", "--epochs", "1", "--sentences", "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sentence_examples"] > 400 and "training sentences" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--epochs", "zero"], "not a whole number"),
        (["train", "--epochs", "0"], "out of range"),
        (["train", "--batch-size", "-5"], "out of range"),
    ],
)
def test_train_rejects_bad_arguments_with_a_sentence(home, argv, message, capsys):
    """Bad numbers stop argparse with a message, not a traceback."""
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_train_unknown_arch_and_missing_data_are_one_line_errors(home, tmp_path, capsys):
    """Failures print one 'sentibot: ...' line and exit 1."""
    assert main(["train", "--arch", "nope", "--data", str(tmp_path)]) == 1
    assert "Unknown architecture 'nope'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "missing")]) == 1
    assert "No IMDB data" in capsys.readouterr().err


def test_a_bad_feedback_file_is_one_line_before_any_data_is_read(home, tmp_path, capsys):
    """--feedback CSV: a missing file or a row without a positive/negative label names itself."""
    assert main(["train", "--data", str(tmp_path / "missing"), "--feedback", str(tmp_path / "none.csv")]) == 1
    assert "Could not read" in capsys.readouterr().err
    bad = tmp_path / "feedback.csv"
    bad.write_text("text,label\nfine film,thumbs up\n")
    assert main(["train", "--data", str(tmp_path / "missing"), "--feedback", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "row 2: needs a text and a label of positive or negative" in err and "Traceback" not in err


def test_predict_prints_one_json_object_per_text(home, bundle_path, capsys):
    """Each text gets label and score from the chosen bundle."""
    assert main(["predict", "--model", str(bundle_path), "a wonderful superb film", "awful boring mess"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert rows[0]["score"] > 0.5 > rows[1]["score"]


def test_predict_file_reads_one_review_per_line(home, bundle_path, tmp_path, capsys):
    """--file scores every line, empty ones included."""
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("loved it, brilliant\n\nworst waste\n")
    assert main(["predict", "--model", str(bundle_path), "--file", str(reviews)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_predict_uses_the_newest_local_bundle_or_says_how_to_train(home, bundle_path, capsys):
    """No bundle: a sentence naming `sentibot train`; with one copied in, it is used."""
    assert main(["predict", "great"]) == 1
    assert "sentibot train" in capsys.readouterr().err
    (home / "bundles").mkdir(parents=True)
    (home / "bundles" / bundle_path.name).write_bytes(bundle_path.read_bytes())
    assert main(["predict", "great"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == bundle_path.stem


def test_predict_without_text_or_with_corrupt_bundle_explains(home, bundle_path, tmp_path, capsys):
    """No input and a damaged bundle are both one clear line."""
    assert main(["predict", "--model", str(bundle_path)]) == 1
    assert "Give reviews" in capsys.readouterr().err
    broken = tmp_path / "broken.sentibot"
    broken.write_bytes(bundle_path.read_bytes()[:1000])
    assert main(["predict", "--model", str(broken), "fine"]) == 1
    assert "damaged" in capsys.readouterr().err


def test_decode_shows_the_review_as_the_model_sees_it(home, imdb_dir, capsys):
    """The decoded review starts with the start marker and has a label."""
    assert main(["decode", "--data", str(imdb_dir), "--split", "train", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("label: ") and "<start>" in out
    assert main(["decode", "--data", str(imdb_dir), "999999"]) == 1
    assert "INDEX must be below" in capsys.readouterr().err
