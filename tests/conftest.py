"""Shared fixtures: generated IMDB data, one trained bundle per session, a real redis-server."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path

import pytest

from tests.factories import make_aclimdb, make_tarball

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

    _, path = train.save_bundle(trained, tiny_data, tmp_path_factory.mktemp("bundles"))
    return path


@pytest.fixture(scope="session")
def predictor(bundle_path: Path):
    """A Predictor serving the trained bundle."""
    from model import bundle
    from model.predict import Predictor

    return Predictor(bundle.load(bundle_path))


# --- Redis ------------------------------------------------------------------------------------

import subprocess  # noqa: E402
import time  # noqa: E402

from sentibot.redis_server import binary as redis_binary  # noqa: E402
from sentibot.redis_server import free_port  # noqa: E402


class RedisServer:
    """A private redis-server on 127.0.0.1, persistence off, stopped by PID."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


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


@pytest.fixture
def worker_settings(tmp_path, imdb_dir, redis_server):
    """Settings a worker in these tests runs with; the model cache starts empty."""
    from sentibot.settings import Settings
    from worker import model_cache

    settings = Settings(home=tmp_path / "home", imdb_data=str(imdb_dir), redis_url=redis_server.url, min_accuracy=0.5)
    model_cache.reset()
    model_cache.configure(settings, tmp_path / "worker-bundles")
    yield settings
    model_cache.reset()


@pytest.fixture
def live_model(connection, bundle_path):
    """The trained tutorial bundle, added to the registry and live."""
    from worker.registry import ModelRegistry

    return ModelRegistry(connection).add(bundle_path.read_bytes(), promote=True)


def run_burst(connection, queues=("score",)) -> None:
    """Work every queued job in this process, then return (RQ's burst mode)."""
    from worker.run import build_worker

    build_worker(connection, list(queues)).work(burst=True, logging_level="WARNING")


def worker_env(settings, **extra) -> dict:
    """Environment for a real `sentibot worker` process."""
    return {
        **os.environ,
        "SENTIBOT_HOME": str(settings.home),
        "IMDB_DATA": settings.imdb_data,
        "REDIS_URL": settings.redis_url,
        "PROMOTE_MIN_ACCURACY": str(settings.min_accuracy),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_worker(settings, queues: str, name: str) -> subprocess.Popen:
    """A real worker process (stopped by the test that starts it, by PID)."""
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "sentibot.cli", "worker", "--queues", queues, "--name", name],
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def wait_worker_ready(connection, name: str, timeout: float = 60) -> None:
    """Wait until a worker process sends heartbeats (it has loaded TensorFlow and its model)."""
    wait_for(lambda: connection.exists(f"sentibot:alive:{name}"), timeout)


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a process we started, then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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

    outcome = train.train(fasttext_data, "fasttext", epochs=3, seed=1)
    _, path = train.save_bundle(outcome, fasttext_data, tmp_path_factory.mktemp("bundles"))
    return bundle.load(path)


@pytest.fixture(scope="session")
def nbsvm_data(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The generated reviews in the NBSVM recipe's bag layout (with trigrams), with sentence examples."""
    from model.data import load_imdb
    from model.recipes import RECIPES

    return load_imdb(imdb_dir, tmp_path_factory.mktemp("cache"), RECIPES["nbsvm"], sentences=True)
