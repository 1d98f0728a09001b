"""The architecture registry and the tutorial model, exactly as the Keras tutorial builds it."""

from __future__ import annotations

import pytest

from model import architectures
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
    """Each entry of the registry reads (batch, 500) ids and outputs (batch, 1)."""
    import numpy as np

    for name in architectures.ARCHITECTURES:
        model = architectures.build(name)
        out = model.predict_on_batch(np.zeros((2, 500), "int32"))
        assert out.shape == (2, 1) and 0 <= float(out.min()) <= float(out.max()) <= 1


def test_unknown_architecture_lists_the_known_ones():
    """A typo gets the list of valid names."""
    with pytest.raises(UnknownArchitecture, match="tutorial"):
        architectures.build("transformer-xl")


def test_names_known_to_the_bot_match_the_registry():
    """The TensorFlow-free list the bot validates against is the registry's list."""
    from model.names import ARCHITECTURE_NAMES

    assert sorted(ARCHITECTURE_NAMES) == sorted(architectures.ARCHITECTURES)
