"""Model bundles: versioned, verified, loadable from bytes, refused when damaged."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from model import bundle
from model.errors import BundleCorrupt, ModelNotFound


def test_bundle_round_trips_model_encoder_and_meta(bundle_path, trained, tiny_data):
    """A loaded bundle predicts exactly what the trained model did and keeps its metadata."""
    loaded = bundle.load(bundle_path)
    x = tiny_data.x_test[:16]
    np.testing.assert_allclose(loaded.model.predict_on_batch(x), trained.model.predict_on_batch(x), atol=1e-6)
    assert loaded.encoder == tiny_data.encoder
    meta = loaded.meta
    assert meta["arch"] == "tutorial" and meta["params"] == 576_305
    assert meta["test_accuracy"] == pytest.approx(trained.test_accuracy)
    assert meta["dataset"] == tiny_data.fingerprint
    assert {"epochs", "batch_size", "seed"} <= set(meta["hyperparameters"])
    assert len(meta["history"]["val_accuracy"]) == len(trained.history["val_accuracy"])
    assert {"tensorflow", "keras"} <= set(meta["versions"]) and meta["created_at"].endswith("Z")
    assert bundle_path.name == f"{meta['version']}.sentibot"


def test_meta_is_readable_without_loading_keras(bundle_path):
    """The registry lists bundles by reading only their verified metadata."""
    assert bundle.read_meta(bundle_path.read_bytes())["arch"] == "tutorial"


def test_truncated_bundle_is_refused(bundle_path):
    """Half a bundle is a clear error, not a Keras traceback."""
    data = bundle_path.read_bytes()
    with pytest.raises(BundleCorrupt, match="damaged"):
        bundle.from_bytes(data[: len(data) // 2])


def test_tampered_bundle_fails_its_checksum(bundle_path):
    """Changing the model bytes inside a bundle is detected."""
    parts = {}
    with tarfile.open(fileobj=io.BytesIO(bundle_path.read_bytes())) as tar:
        for member in tar:
            parts[member.name] = tar.extractfile(member).read()
    weights = bytearray(parts["model.keras"])
    weights[len(weights) // 2] ^= 0xFF
    parts["model.keras"] = bytes(weights)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleCorrupt, match="checksum"):
        bundle.from_bytes(buffer.getvalue())


def test_random_bytes_are_not_a_bundle():
    """Anything that is not a bundle is refused."""
    with pytest.raises(BundleCorrupt):
        bundle.from_bytes(b"not a bundle at all")
    with pytest.raises(BundleCorrupt):
        bundle.read_meta(json.dumps({"version": "x"}).encode())


def test_newest_without_bundles_says_how_to_train(tmp_path):
    """No bundle yet: the error says which command makes one."""
    with pytest.raises(ModelNotFound, match="sentibot train"):
        bundle.newest(tmp_path)


def test_versions_are_unique_and_sort_by_time():
    """Two versions made in a row differ; ids start with a UTC timestamp."""
    first, second = bundle.new_version(), bundle.new_version()
    assert first != second and first[:8].isdigit()
