"""The worker's one deliberate per-process global: the model it is serving.

Every score batch calls :func:`get_predictor`, which does one cheap GET of the registry's
`current` pointer. When the version changed, the new bundle is fetched (or read from the local
disk cache), verified, loaded and warmed up completely before it replaces the old one, so a
worker never serves a half-loaded model and a promotion reaches every worker on its next job
without a restart. A bundle that fails to load is recorded in the registry and the old model
keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import redis

from model import bundle as bundles
from model.errors import ModelError
from model.predict import Predictor
from sentibot.settings import Settings
from worker.errors import ModelUnavailable, NotFound
from worker.registry import ModelRegistry

log = logging.getLogger(__name__)


@dataclass
class _Cache:
    predictor: Predictor | None = None
    broken: dict[str, str] = field(default_factory=dict)  # version -> why it could not be loaded
    local_dir: Path | None = None  # bundles are also kept here, so a restart needs no download
    settings: Settings = field(default_factory=Settings)  # what the jobs of this process run with
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache = _Cache()


def configure(settings: Settings, local_dir: Path | None = None) -> None:
    """Give this process its settings and where fetched bundles are cached (None: memory only)."""
    _cache.settings = settings
    _cache.local_dir = local_dir


def settings() -> Settings:
    """The settings this worker process was started with."""
    return _cache.settings


def reset() -> None:
    """Forget the loaded model (tests, and a worker that wants a clean start)."""
    _cache.predictor = None
    _cache.broken.clear()


def load_problem() -> str | None:
    """Why the live version is not the one being served, if it is not."""
    if _cache.broken and _cache.predictor is not None:
        return "; ".join(f"model {v} could not be loaded ({why})" for v, why in _cache.broken.items())
    return None


def _fetch(registry: ModelRegistry, version: str) -> bytes:
    local = _cache.local_dir / f"{version}{bundles.SUFFIX}" if _cache.local_dir else None
    if local is not None and local.exists():
        data = local.read_bytes()
        if hashlib.sha256(data).hexdigest() == registry.meta(version)["sha256"]:
            return data
    data = registry.bundle_bytes(version)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(local)
    return data


def get_predictor(connection: redis.Redis) -> Predictor:
    """The predictor for the live version, loading it first if it changed."""
    registry = ModelRegistry(connection)
    version = registry.current()
    serving = _cache.predictor
    if version is None and serving is None:
        raise ModelUnavailable("No model is live yet: an admin has to train one first (/retrain).")
    if version is None or (serving is not None and serving.version == version) or version in _cache.broken:
        if serving is None:
            raise ModelUnavailable(f"The live model {version} cannot be loaded: {_cache.broken[version]}")
        return serving
    with _cache.lock:
        if _cache.predictor is not None and _cache.predictor.version == version:
            return _cache.predictor
        try:
            predictor = Predictor(bundles.from_bytes(_fetch(registry, version)))
        except (ModelError, NotFound) as exc:  # damaged or missing bundle
            log.error("model %s refused: %s", version, exc)
            _cache.broken[version] = str(exc)
            registry.mark_broken(version, str(exc))
            if _cache.predictor is None:
                raise ModelUnavailable(f"The live model {version} cannot be loaded: {exc}") from None
            return _cache.predictor
        log.info("now serving model %s (%s)", version, predictor.bundle.meta.get("arch"))
        _cache.predictor = predictor
        return predictor
