"""Shared fixtures: generated IMDB data, one trained bundle per session, a real redis-server."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.factories import make_aclimdb, make_tarball  # noqa: E402

TINY_EPOCHS = 4  # enough for the tutorial model to learn the generated cue words


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated aclImdb folder: 500 reviews per split and label."""
    return make_aclimdb(tmp_path_factory.mktemp("imdb"), per_class=500)


@pytest.fixture(scope="session")
def imdb_tarball(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same reviews packed as aclImdb_v1.tar.gz."""
    return make_tarball(imdb_dir, tmp_path_factory.mktemp("tar") / "aclImdb_v1.tar.gz")


@pytest.fixture(scope="session")
def tiny_data(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated reviews, encoded."""
    from model.data import load_imdb

    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def trained(tiny_data):
    """A tutorial model trained on the generated reviews (a few seconds)."""
    from model import train

    return train.train(tiny_data, "tutorial", epochs=TINY_EPOCHS, batch_size=32, seed=1)


@pytest.fixture(scope="session")
def bundle_path(trained, tiny_data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained tutorial model saved as a bundle file."""
    from model import train

    _, path = train.save_bundle(trained, tiny_data, TINY_EPOCHS, 32, 1, tmp_path_factory.mktemp("bundles"))
    return path


@pytest.fixture(scope="session")
def predictor(bundle_path: Path):
    """A Predictor serving the trained bundle."""
    from model import bundle
    from model.predict import Predictor

    return Predictor(bundle.load(bundle_path))
