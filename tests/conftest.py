"""Shared fixtures: generated IMDB data, one trained bundle per session, a real redis-server."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Processes the suite starts train the fast nbsvm when no architecture is named; the default (minilm)
# is tested on its own at a tiny size (tests/test_minilm.py), so CI never fine-tunes the real encoder.
os.environ.setdefault("DEFAULT_ARCH", "nbsvm")

from pathlib import Path

import pytest

from tests.factories import TINY_EPOCHS, make_aclimdb, make_tarball

# Fixtures that train a model or start a process: a test using any of them is marked slow, so
# `pytest -m "not slow"` is the quick loop. Modules that start processes themselves say so with
# `pytestmark = pytest.mark.slow`.
SLOW_FIXTURES = {"trained", "bundle_path", "predictor", "fasttext_bundle", "redis_server", "connection"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that (through its fixtures) trains or starts processes as slow."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
    from model.recipes import RECIPES

    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"), RECIPES["tutorial"])


@pytest.fixture(scope="session")
def trained(tiny_data):
    """A tutorial model trained on the generated reviews (a few seconds)."""
    from model import train
    from model.recipes import plan

    return train.train(tiny_data, plan("tutorial", TINY_EPOCHS, 32), seed=1)


@pytest.fixture(scope="session")
def bundle_path(trained, tiny_data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained tutorial model saved as a bundle file."""
    from model import train

    _, path = train.save_bundle(trained, tiny_data, tmp_path_factory.mktemp("bundles"))
    return path


@pytest.fixture(scope="session")
def predictor(bundle_path: Path):
    """A Predictor serving the trained bundle."""
    from model import bundle
    from model.predict import Predictor

    return Predictor(bundle.load(bundle_path))


# --- Redis, the Bot API stand-in and a worker's settings (processes: tests/processes.py) -------------

from tests.processes import TOKEN, RedisServer  # noqa: E402
from tests.telegram_standin import TelegramStandIn  # noqa: E402


@pytest.fixture(scope="session")
def redis_server():
    """One redis-server for the whole session."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def connection(redis_server):
    """A client on a flushed database (flushed again afterwards)."""
    from worker.connection import connect

    client = connect(redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def standin():
    """The Bot API stand-in on a free port, shared by a module's tests (a test that needs its own starts one)."""
    server = TelegramStandIn(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def worker_settings(tmp_path, imdb_dir, redis_server):
    """Settings a worker in these tests runs with."""
    from common.settings import Settings

    return Settings(home=tmp_path / "home", imdb_data=str(imdb_dir), redis_url=redis_server.url, min_accuracy=0.5)


@pytest.fixture
def live_model(connection, bundle_path):
    """The trained tutorial bundle, added to the registry and live."""
    from worker.registry import ModelRegistry

    return ModelRegistry(connection).add(bundle_path.read_bytes(), promote=True)


@pytest.fixture(scope="session")
def fasttext_data(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated reviews in the fastText recipe's bag layout, with sentence examples."""
    from model.data import load_imdb
    from model.recipes import RECIPES

    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"), RECIPES["fasttext"], sentences=True)


@pytest.fixture(scope="session")
def fasttext_bundle(fasttext_data, tmp_path_factory: pytest.TempPathFactory):
    """A fastText model trained on the generated reviews and their sentences, saved and loaded back."""
    from model import bundle, train
    from model.recipes import plan

    outcome = train.train(fasttext_data, plan("fasttext", 3), seed=1)
    _, path = train.save_bundle(outcome, fasttext_data, tmp_path_factory.mktemp("bundles"))
    return bundle.load(path)


@pytest.fixture(scope="session")
def nbsvm_data(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated reviews in the NBSVM recipe's bag layout (with trigrams), with sentence examples."""
    from model.data import load_imdb
    from model.recipes import RECIPES

    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"), RECIPES["nbsvm"], sentences=True)
