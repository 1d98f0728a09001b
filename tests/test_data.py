"""Reading the aclImdb layout from a folder or tarball, caching the arrays, and clear errors."""

from __future__ import annotations

import tarfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from model.data import fingerprint, load_imdb, load_keras_imdb, read_aclimdb
from model.errors import DatasetInvalid, DatasetNotFound, DatasetUnavailable
from model.recipes import RECIPES
from tests.factories import make_aclimdb


def test_reads_both_splits_with_labels_from_folders(imdb_dir):
    """Labels come from pos/neg; raw text keeps its <br /> breaks."""
    raw = read_aclimdb(imdb_dir)
    assert len(raw.train_texts) == len(raw.test_texts) == 1000
    assert sorted(set(raw.train_labels)) == [0, 1] and sum(raw.train_labels) == 500
    assert "<br />" in raw.train_texts[0]


def test_tarball_and_folder_give_the_same_reviews(imdb_dir, imdb_tarball):
    """The .tar.gz and its extracted folder read identically."""
    assert read_aclimdb(imdb_tarball) == read_aclimdb(imdb_dir)


def test_parent_folder_of_aclimdb_is_accepted(imdb_dir):
    """Pointing at the folder that contains aclImdb/ works too."""
    assert len(read_aclimdb(imdb_dir.parent).test_texts) == 1000


def test_full_stanford_layout_skips_unsup_and_feat_files(tmp_path):
    """Stanford's full tarball also has train/unsup and .feat files: they are ignored."""
    base = make_aclimdb(tmp_path, per_class=3)
    (base / "train" / "unsup").mkdir()
    (base / "train" / "unsup" / "0_0.txt").write_text("unlabeled")
    (base / "train" / "labeledBow.feat").write_text("0 0:1")
    tar = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tar, "w:gz") as handle:
        handle.add(base, arcname="aclImdb")
    raw = read_aclimdb(tar)
    assert len(raw.train_texts) == 6 and "unlabeled" not in raw.train_texts


def test_missing_path_is_a_clear_error(tmp_path):
    """The message names the path and what to do."""
    with pytest.raises(DatasetNotFound, match="IMDB_DATA"):
        read_aclimdb(tmp_path / "nowhere")


def test_wrong_layout_is_a_clear_error(tmp_path):
    """A folder without train/ and test/ is refused."""
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DatasetInvalid, match="aclImdb layout"):
        read_aclimdb(tmp_path / "stuff")


def test_empty_split_is_named(tmp_path):
    """A split with no reviews is reported by name."""
    base = make_aclimdb(tmp_path, per_class=2)
    for file in (base / "test" / "neg").iterdir():
        file.unlink()
    with pytest.raises(DatasetInvalid, match="test/neg"):
        read_aclimdb(base)


def test_corrupt_tarball_is_a_clear_error(tmp_path):
    """A damaged archive is refused with the path in the message."""
    bad = tmp_path / "aclImdb_v1.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage" * 100)
    with pytest.raises(DatasetInvalid, match="not a readable"):
        read_aclimdb(bad)


def test_unreadable_review_is_named(tmp_path):
    """A review that cannot be read (here a dangling link) is named in the error."""
    base = make_aclimdb(tmp_path, per_class=2)
    target = next((base / "train" / "pos").iterdir())
    target.unlink()
    target.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(DatasetInvalid, match=target.name):
        read_aclimdb(base)


@pytest.mark.timed
def test_second_load_comes_from_the_cache(imdb_dir, tmp_path):
    """The encoded arrays are cached by dataset fingerprint; the second load reads the cache."""
    first = load_imdb(imdb_dir, tmp_path, RECIPES["tutorial"])
    assert len(list(tmp_path.glob("imdb-*.npz"))) == 1
    started = time.perf_counter()
    second = load_imdb(imdb_dir, tmp_path, RECIPES["tutorial"])
    assert time.perf_counter() - started < 1.0
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert first.encoder == second.encoder


def test_changed_dataset_gets_a_new_fingerprint(tmp_path):
    """Editing a review changes the fingerprint, so a stale cache is never used."""
    base = make_aclimdb(tmp_path, per_class=2)
    before = fingerprint(base)
    review = next((base / "test" / "pos").iterdir())
    review.write_text(review.read_text() + " more words")
    assert fingerprint(base) != before


def test_keras_download_failure_says_how_to_use_a_local_copy(monkeypatch):
    """Without internet, the Keras source fails with one sentence naming IMDB_DATA and --data."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # and no network, even on a machine with one
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    # urlopen builds its opener, proxies included, once a process: this one is dropped afterwards, or every
    # later urlopen in this test process (the metrics, the dashboard, the stand-in) would go through port 9.
    monkeypatch.setattr(urllib.request, "_opener", None)
    with pytest.raises(DatasetUnavailable, match="IMDB_DATA") as error:
        load_keras_imdb(RECIPES["tutorial"])
    assert "\n" not in str(error.value)


def test_sentences_split_at_breaks_and_sentence_ends():
    """Line breaks and '.', '!' or '?' followed by a space end a sentence; 'e.g.x' does not."""
    from model.data import split_sentences

    text = "Great film. I loved it!<br /><br />Would I watch again? Yes... twice.Really"
    assert split_sentences(text) == ["Great film.", "I loved it!", "Would I watch again?", "Yes...", "twice.Really"]


def test_sentence_examples_keep_3_to_40_words_with_their_reviews_label_and_index():
    """Each training review's sentences become examples labelled like the review, each knowing its review;
    the test split is untouched."""
    from model.data import RawImdb, sentence_examples

    raw = RawImdb(
        train_texts=[
            "Loved it. A touching and superb story! Yes.",
            "Dull. " + "boring " * 50 + ". Worst film ever made.",
        ],
        train_labels=[1, 0],
        test_texts=["Never used for sentences here."],
        test_labels=[1],
    )
    texts, labels, origins = sentence_examples(raw)
    assert texts == ["A touching and superb story!", "Worst film ever made."]
    assert labels == [1, 0]
    assert origins == [0, 1]


def test_held_out_reviews_leave_with_their_sentences(imdb_dir, tmp_path):
    """The blend's dev reviews are held out of training: neither they nor any sentence cut from them stay."""
    from model.data import load_imdb
    from model.recipes import recipe

    data = load_imdb(imdb_dir, tmp_path, recipe("nbsvm"), sentences=True)
    assert len(data.sentence_reviews) == len(data.y_sentences) > 0
    dev = np.array([0, 3, 7])
    kept = data.without_reviews(dev)
    assert len(kept.y_train) == len(data.y_train) - 3
    assert not np.isin(kept.sentence_reviews, dev).any()
    gone = np.isin(data.sentence_reviews, dev).sum()
    assert gone > 0 and len(kept.y_sentences) == len(data.y_sentences) - gone
    assert (kept.x_train[0] == data.x_train[1]).all()  # review 0 left, review 1 is now first


def test_load_imdb_adds_sentences_only_when_asked(imdb_dir, tmp_path):
    """Sentence examples are an option of the pipeline, cached separately from the plain arrays."""
    from model.recipes import RECIPES

    plain = load_imdb(imdb_dir, tmp_path, RECIPES["tutorial"])
    with_sentences = load_imdb(imdb_dir, tmp_path, RECIPES["tutorial"], sentences=True)
    assert len(plain.y_sentences) == 0
    assert len(with_sentences.y_sentences) > len(with_sentences.y_train)  # two sentences per generated review
    assert with_sentences.x_sentences.shape[1] == with_sentences.x_train.shape[1]
    assert len(list(tmp_path.glob("imdb-*.npz"))) == 2
    np.testing.assert_array_equal(plain.x_train, with_sentences.x_train)


def test_each_recipe_gets_its_own_encoding(imdb_dir, tmp_path):
    """The fastText recipe's bag rows are 1,500 wide with bigram ids past the 50,000 words."""
    from model.recipes import RECIPES

    bag = load_imdb(imdb_dir, tmp_path, RECIPES["fasttext"])
    assert bag.encoder.layout == "bag" and bag.x_train.shape == (len(bag.y_train), 1500)
    assert bag.x_train.max() >= 50_000


def test_sentences_need_the_review_texts():
    """Keras's copy holds ids, not sentences: asking for both is one clear sentence."""
    with pytest.raises(DatasetUnavailable, match="IMDB_DATA"):
        load_imdb("keras", Path(), RECIPES["tutorial"], sentences=True)
