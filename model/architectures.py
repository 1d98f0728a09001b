"""Keras builders for the architectures named in ``model.recipes``; `tutorial` is the Keras IMDB model, exactly.

Each builder takes the encoder (vocabulary, row width, layout) and returns a compiled model that
reads (batch, maxlen) int ids and outputs P(positive). Add an architecture by writing a builder here
and a recipe in ``model.recipes`` that names it (``builder="build_<name>"``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import keras
import numpy as np
from keras import layers, ops

from model import minilm, recipes
from model.encoding import TextEncoder

EMBED_DIM = 32  # tutorial: size of each word vector
HIDDEN = 16  # tutorial: units in each hidden Dense layer
POOLED_EMBED_DIM = 64  # pooled: word vector size (order-free, so a wider vector is affordable)
FASTTEXT_DIM = 8  # fasttext: 1M+ rows, so a narrow vector keeps the bundle near 35 MB
FASTTEXT_LEARNING_RATE = 0.01  # a linear bag model converges in 2 epochs at this rate, not at 1e-3
NB_L2 = 1e-4  # nbsvm: L2 pull of w towards zero (chosen on held-out training reviews, not on test)
NB_ALPHA = 1.0  # nbsvm: add-one smoothing of the feature counts behind the log-count ratios
NB_LEARNING_RATE = 0.005
GLOVE_FILTERS = 64  # glove: width-3 convolution filters (phrases like "not at all")
LSTM_UNITS = 32
MINILM_LEARNING_RATE = 5e-5  # fine-tuning a pretrained transformer: larger rates forget what it knew
MINILM_WEIGHT_DECAY = 0.01


@keras.saving.register_keras_serializable(package="sentibot")
class MaskedMeanMax(layers.Layer):
    """Mean and max of the word vectors over real words only (ids > 0): padding never counts.

    Takes ``[ids, vectors]`` and returns ``[mean, max]`` concatenated. Written out instead of
    ``mask_zero`` so the convolution beside it sees plain vectors (Conv1D cannot take a mask).
    """

    def call(self, inputs):
        ids, vectors = inputs
        mask = ops.expand_dims(ops.cast(ids > 0, vectors.dtype), -1)
        count = ops.sum(mask, axis=1)
        mean = ops.sum(vectors * mask, axis=1) / ops.maximum(count, 1.0)
        peak = ops.max(vectors - (1.0 - mask) * 1e9, axis=1)
        peak = ops.where(count > 0, peak, ops.zeros_like(peak))  # an all-padding row has no max
        return ops.concatenate([mean, peak], axis=-1)

    def compute_output_shape(self, input_shapes):
        batch, _, dim = input_shapes[1]
        return (batch, 2 * dim)


@keras.saving.register_keras_serializable(package="sentibot")
class NBLinear(layers.Layer):
    """Σ over a row's features of w_f · r_f: logistic regression on Naive-Bayes-scaled binary features.

    Wang & Manning's NBSVM (2012) as a layer. r_f, the log-count ratio of feature f between positive
    and negative training reviews, is set once by :func:`adapt` and saved with the weights (not
    trained). w starts at zero under an L2 pull: the gradient on w_f is proportional to r_f, so
    strongly one-sided words and phrases move first and rare, balanced ones stay near zero.
    """

    def __init__(self, input_dim: int, l2: float = NB_L2, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.l2 = l2

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(self.input_dim,), initializer="zeros", regularizer=keras.regularizers.L2(self.l2), name="w"
        )
        self.r = self.add_weight(shape=(self.input_dim,), initializer="zeros", trainable=False, name="r")

    def call(self, ids):
        present = ops.cast(ids > 0, self.compute_dtype)
        return ops.sum(ops.take(self.w, ids) * ops.take(self.r, ids) * present, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "l2": self.l2}


Examples = list[tuple[np.ndarray, np.ndarray]]  # (rows, labels) parts, e.g. reviews and sentences


def nb_ratios(parts: Examples, input_dim: int, alpha: float = NB_ALPHA) -> np.ndarray:
    """log((p / |p|) / (q / |q|)) with p, q the smoothed counts of each id in positive and negative rows.

    Rows are bag-layout rows (each id at most once), so counts are document frequencies; id 0 is
    padding and is not counted.
    """
    counts = {label: np.zeros(input_dim, dtype=np.int64) for label in (0, 1)}
    for x, y in parts:
        for label in (0, 1):
            counts[label] += np.bincount(x[np.asarray(y) == label].reshape(-1), minlength=input_dim)[:input_dim]
    positive, negative = (alpha + counts[label][1:] for label in (1, 0))
    ratios = np.zeros(input_dim, dtype="float32")
    ratios[1:] = np.log((positive / positive.sum()) / (negative / negative.sum()))
    return ratios


def _compile(model: keras.Model, learning_rate: float = 0.001) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _ids(encoder: TextEncoder) -> keras.KerasTensor:
    """Sequence models read exactly maxlen positions; bag models read rows of any width."""
    width = encoder.maxlen if encoder.fixed_width else None
    return keras.Input(shape=(width,), dtype="int32", name="ids")


def build_tutorial(encoder: TextEncoder) -> keras.Model:
    """Embedding(10000, 32) → Flatten → Dense(16) → Dense(16) → Dense(1): 576,305 parameters."""
    inputs = _ids(encoder)
    x = layers.Embedding(encoder.input_dim, EMBED_DIM, name="embedding")(inputs)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_1")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="tutorial"))


def build_pooled(encoder: TextEncoder) -> keras.Model:
    """Embedding → masked average → Dense: position-free, so short chat texts use every weight."""
    inputs = _ids(encoder)
    x = layers.Embedding(encoder.input_dim, POOLED_EMBED_DIM, mask_zero=True, name="embedding")(inputs)
    x = layers.GlobalAveragePooling1D(name="average")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_1")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="pooled"))


def build_fasttext(encoder: TextEncoder) -> keras.Model:
    """Joulin et al.'s fastText on the bag layout: the average of word and hashed-bigram vectors → logistic."""
    inputs = _ids(encoder)
    x = layers.Embedding(encoder.input_dim, FASTTEXT_DIM, mask_zero=True, name="embedding")(inputs)
    x = layers.GlobalAveragePooling1D(name="average")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="fasttext"), FASTTEXT_LEARNING_RATE)


def build_nbsvm(encoder: TextEncoder) -> keras.Model:
    """NBSVM on the bag layout: one weight per word and hashed bigram, scaled by its NB ratio → logistic."""
    inputs = _ids(encoder)
    x = NBLinear(encoder.input_dim, name="nb_linear")(inputs)
    outputs = layers.Dense(1, activation="sigmoid", kernel_initializer="ones", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="nbsvm"), NB_LEARNING_RATE)


def adapt_nbsvm(model: keras.Model, parts: Examples) -> None:
    """Set the NB ratios from the training rows (the test split is never looked at)."""
    layer = model.get_layer("nb_linear")
    layer.r.assign(nb_ratios(parts, layer.input_dim))


def build_glove(encoder: TextEncoder) -> keras.Model:
    """GloVe-initialised (trainable) embedding; masked mean + max of the words, and a width-3 convolution."""
    from model import glove

    inputs = _ids(encoder)
    embedding = layers.Embedding(encoder.num_words, glove.DIM, name="embedding")
    embedded = embedding(inputs)
    # set, not passed as a Constant initializer: that would copy the whole matrix into the saved config
    embedding.set_weights([glove.embedding_matrix(encoder.words, encoder.num_words)[0]])
    words = MaskedMeanMax(name="mean_max")([inputs, embedded])
    phrases = layers.Conv1D(GLOVE_FILTERS, 3, activation="relu", name="phrases")(embedded)
    phrases = layers.GlobalMaxPooling1D(name="phrase_max")(phrases)
    x = layers.Concatenate(name="features")([words, phrases])
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="glove"))


def build_lstm(encoder: TextEncoder) -> keras.Model:
    """Embedding(10000, 32) → LSTM(32) → Dense(1): reads words in order, the slowest to train here."""
    inputs = _ids(encoder)
    x = layers.Embedding(encoder.input_dim, EMBED_DIM, mask_zero=True, name="embedding")(inputs)
    x = layers.LSTM(LSTM_UNITS, name="lstm")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="lstm"))


def build_minilm(
    encoder: TextEncoder,
    config: minilm.BertConfig = minilm.MINILM_L6,
    pretrained: bool = True,
    recipe: recipes.Recipe | None = None,
):
    """all-MiniLM-L6-v2 (its pretrained weights) → mean over the pieces → Dense(1), fine-tuned.

    The recipe (``minilm``'s unless given) says what makes a step cheaper: the word-piece table kept
    fixed, an XLA-compiled train step, bfloat16 compute in the encoder.
    """
    recipe = recipe or recipes.recipe("minilm")
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    policy = "mixed_bfloat16" if recipe.mixed_bfloat16 else None
    body = minilm.BertEncoder(config.to_dict(), name="minilm", dtype=policy)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(body(ids))
    model = keras.Model(ids, outputs, name="minilm")
    if pretrained:
        minilm.load_pretrained(body)
    if recipe.freeze_word_pieces:
        body.embeddings.words.trainable = False
    if recipe.frozen_layers:  # nothing below a frozen block learns, so the gradient stops at the lowest trained one
        body.embeddings.trainable = False
        for block in body.blocks[: recipe.frozen_layers]:
            block.trainable = False
    optimizer = keras.optimizers.AdamW(MINILM_LEARNING_RATE, weight_decay=MINILM_WEIGHT_DECAY)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], jit_compile=recipe.jit_compile)
    return model


def adapt(name: str, model: keras.Model, parts: Examples) -> None:
    """Give the model what it learns from the training examples before fitting (nothing for most), like
    Keras's ``adapt()``: the recipe names the function here that does it."""
    adapter = recipes.recipe(name).adapter
    if adapter:
        getattr(sys.modules[__name__], adapter)(model, parts)


def default_encoder(name: str) -> TextEncoder:
    """An encoder with the recipe's settings and no vocabulary: enough to build and inspect a model."""
    return TextEncoder.learn(recipes.recipe(name).encoder_settings())


def build(name: str, encoder: TextEncoder | None = None) -> keras.Model:
    """The compiled model registered under ``name``, sized for ``encoder`` (the recipe's settings if None)."""
    builder: Callable[[TextEncoder], keras.Model] = getattr(sys.modules[__name__], recipes.recipe(name).builder)
    return builder(encoder or default_encoder(name))
