"""Named model architectures; `tutorial` is the classic Keras IMDB model, exactly.

Each builder takes the encoder's sizes and returns a compiled model that reads (batch, maxlen)
int ids and outputs P(positive). Add an architecture by writing a builder and naming it in
ARCHITECTURES.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from model.encoding import MAXLEN, NUM_WORDS
from model.errors import UnknownArchitecture

EMBED_DIM = 32  # tutorial: size of each word vector
HIDDEN = 16  # tutorial: units in each hidden Dense layer
POOLED_EMBED_DIM = 64  # pooled: word vector size (order-free, so a wider vector is affordable)


def _compile(model: keras.Model) -> keras.Model:
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def build_tutorial(num_words: int = NUM_WORDS, maxlen: int = MAXLEN) -> keras.Model:
    """Embedding(10000, 32) → Flatten → Dense(16) → Dense(16) → Dense(1): 576,305 parameters."""
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="ids")
    x = layers.Embedding(num_words, EMBED_DIM, name="embedding")(inputs)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_1")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="tutorial"))


def build_pooled(num_words: int = NUM_WORDS, maxlen: int = MAXLEN) -> keras.Model:
    """Embedding → masked average → Dense: position-free, so short chat texts use every weight."""
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="ids")
    x = layers.Embedding(num_words, POOLED_EMBED_DIM, mask_zero=True, name="embedding")(inputs)
    x = layers.GlobalAveragePooling1D(name="average")(x)
    x = layers.Dense(HIDDEN, activation="relu", name="dense_1")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="pooled"))


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "tutorial": build_tutorial,
    "pooled": build_pooled,
}


def check(name: str) -> None:
    """Raise :class:`UnknownArchitecture` unless ``name`` is registered."""
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitecture(f"Unknown architecture {name!r}; choose one of: {known}.")


def build(name: str, num_words: int = NUM_WORDS, maxlen: int = MAXLEN) -> keras.Model:
    """The compiled model registered under ``name``."""
    check(name)
    return ARCHITECTURES[name](num_words=num_words, maxlen=maxlen)
