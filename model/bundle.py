"""Model bundles: one file holding the Keras model, its encoder and metadata, with checksums.

A bundle is an uncompressed tar of ``meta.json``, ``encoder.json``, ``model.keras`` and
``checksums.json`` (sha256 of the other three). It travels as bytes (workers load it from Redis)
or as ``<version>.sentibot`` on disk. Loading verifies every checksum first, so a truncated or
tampered bundle is refused before Keras sees it.

A blend (model/blend.py) is the same tar holding ``meta.json`` and one whole bundle per part,
``parts/<name>.sentibot``, instead of an encoder and a model: one file, one version, one checksum list.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.encoding import TextEncoder
from model.errors import BundleCorrupt, ModelNotFound

SUFFIX = ".sentibot"
FORMAT = 1  # bundle layout version, stored in meta.json
_MEMBERS = ("meta.json", "encoder.json", "model.keras")  # a single model's; a blend's: meta.json and its parts
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # new_version()'s ids and hand-made ones; never a path


def check_version(version: object) -> str:
    """``version`` if it is a model version; BundleCorrupt otherwise.

    Versions become file names (``<version>.sentibot``) wherever a bundle is cached, and Redis is not
    trusted with paths: a version read from a bundle or the registry is checked here first.
    """
    if isinstance(version, str) and VERSION.fullmatch(version) and ".." not in version:
        return version
    shown = repr(version)[:60]
    raise BundleCorrupt(f"{shown} is not a model version (letters, digits, '.', '_' and '-' only).")


@dataclass
class Bundle:
    """A loaded model with everything needed to serve it."""

    model: Any  # keras.Model; typed loosely so this module imports Keras only when loading
    encoder: TextEncoder
    meta: dict

    @property
    def version(self) -> str:
        """The bundle's unique version id."""
        return self.meta["version"]


@dataclass
class BlendBundle:
    """Several loaded bundles served as one model (their logits mixed as ``meta["rule"]`` says)."""

    parts: dict[str, Bundle]  # by architecture name, in the order they are mixed
    meta: dict

    @property
    def version(self) -> str:
        """The blend's version id (its parts keep their own)."""
        return self.meta["version"]


def _part_member(name: str) -> str:
    return f"parts/{name}{SUFFIX}"


def new_version() -> str:
    """A sortable, unique version id: UTC time plus random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # bytes depend only on content
    tar.addfile(info, io.BytesIO(data))


def _serving_copy(model: Any) -> Any:
    """The model without its optimizer: Keras 3 always saves Adam's two moments, tripling the file."""
    import keras

    if getattr(model, "optimizer", None) is None:
        return model
    copy = keras.Model.from_config(model.get_config())  # same layers, never compiled
    copy.set_weights(model.get_weights())
    return copy


def _members(bundle: Bundle | BlendBundle) -> dict[str, bytes]:
    meta = json.dumps({**bundle.meta, "format": FORMAT}, indent=2, sort_keys=True).encode()
    if isinstance(bundle, BlendBundle):
        return {"meta.json": meta, **{_part_member(name): to_bytes(part) for name, part in bundle.parts.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.keras"
        _serving_copy(bundle.model).save(model_path)
        return {
            "meta.json": meta,
            "encoder.json": json.dumps(bundle.encoder.to_config()).encode(),
            "model.keras": model_path.read_bytes(),
        }


def to_bytes(bundle: Bundle | BlendBundle) -> bytes:
    """Serialise a bundle (model weights, not optimizer state) or a blend of bundles to bytes."""
    parts = _members(bundle)
    checksums = {name: _sha256(data) for name, data in parts.items()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in parts.items():
            _add(tar, name, data)
        _add(tar, "checksums.json", json.dumps(checksums, indent=2).encode())
    return buffer.getvalue()


def _verified_parts(data: bytes) -> dict[str, bytes]:
    """The bundle's members after checking each against checksums.json."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            parts = {}
            for member in tar:
                handle = tar.extractfile(member)
                if handle is not None:
                    parts[member.name] = handle.read()
        checksums = json.loads(parts["checksums.json"])
        blend = json.loads(parts["meta.json"]).get("parts") if "meta.json" in parts else None
    except (tarfile.TarError, EOFError, OSError, KeyError, ValueError, AttributeError):
        raise BundleCorrupt("The model bundle is damaged (truncated or not a sentibot bundle).") from None
    required = _MEMBERS
    if blend is not None:
        if not isinstance(blend, list) or not blend or not all(isinstance(n, str) and n.isidentifier() for n in blend):
            raise BundleCorrupt("The model bundle's list of parts is damaged.")
        required = ("meta.json", *(_part_member(name) for name in blend))
    for name in required:
        if name not in parts or _sha256(parts[name]) != checksums.get(name):
            raise BundleCorrupt(f"The model bundle failed its checksum ({name}): it was damaged or altered.")
    return parts


def _meta(parts: dict[str, bytes]) -> dict:
    try:
        meta = json.loads(parts["meta.json"])
    except ValueError:
        raise BundleCorrupt("The model bundle's meta.json is not JSON.") from None
    if not isinstance(meta, dict):
        raise BundleCorrupt("The model bundle's meta.json is not a JSON object.")
    check_version(meta.get("version"))
    return meta


def read_meta(data: bytes) -> dict:
    """A bundle's verified metadata (its version checked), without loading Keras."""
    return _meta(_verified_parts(data))


def from_bytes(data: bytes) -> Bundle | BlendBundle:
    """Verify and load a bundle (or a blend and each of its parts); raises :class:`BundleCorrupt` for
    anything damaged."""
    import keras

    from model import architectures  # noqa: F401 - registers the custom layers saved models use

    parts = _verified_parts(data)
    meta = _meta(parts)
    if meta.get("parts"):
        loaded = {name: from_bytes(parts[_part_member(name)]) for name in meta["parts"]}
        if not all(isinstance(part, Bundle) for part in loaded.values()):
            raise BundleCorrupt("A blend's part is itself a blend.")
        return BlendBundle(parts=loaded, meta=meta)  # type: ignore[arg-type]
    encoder = TextEncoder.from_config(json.loads(parts["encoder.json"]))
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.keras"
        model_path.write_bytes(parts["model.keras"])
        try:
            model = keras.saving.load_model(model_path, compile=False)
        except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
            raise BundleCorrupt(f"The model inside the bundle could not be loaded ({type(exc).__name__}).") from None
    return Bundle(model=model, encoder=encoder, meta=meta)


def save(bundle: Bundle | BlendBundle, directory: Path) -> Path:
    """Write ``<version>.sentibot`` into ``directory`` atomically and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{check_version(bundle.version)}{SUFFIX}"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(to_bytes(bundle))
    tmp.replace(path)
    return path


def load(path: Path) -> Bundle | BlendBundle:
    """Load a bundle file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelNotFound(f"No model bundle at {path}.") from None
    except OSError as exc:
        raise BundleCorrupt(f"Could not read the model bundle {path}: {exc.strerror}.") from None
    return from_bytes(data)


def newest(directory: Path) -> Path:
    """The most recent bundle in ``directory`` (version ids sort by time)."""
    bundles = sorted(directory.glob(f"*{SUFFIX}")) if directory.is_dir() else []
    if not bundles:
        raise ModelNotFound(
            f"No trained model in {directory}: train one with `sentibot train --data PATH` "
            "(PATH: the aclImdb folder or .tar.gz)."
        )
    return bundles[-1]


def resolve(path: Path) -> Path:
    """A bundle file as given, or the newest bundle when ``path`` is a directory (`sentibot train --out`'s)."""
    return newest(path) if path.is_dir() else path
