"""The worker's one deliberate piece of per-process state: the model it is serving.

`sentibot worker` makes one :class:`ModelCache` and hands it to its SentibotWorker. Every score
batch calls :meth:`ModelCache.get_predictor`, which does one cheap GET of the registry's
`current` pointer. When the version changed, the new bundle is fetched (or read from the local
disk cache), verified, loaded and warmed up completely before it replaces the old one, so a
worker never serves a half-loaded model and a promotion reaches every worker on its next job
without a restart. A bundle that fails to load, whatever the error, is recorded in the registry
once and the old model keeps serving; this process never tries that version again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import redis

from model import bundle as bundles
from model.errors import ModelError
from model.predict import AnyPredictor
from worker.bundle_loading import load_predictor
from worker.errors import ModelUnavailable, NotFound
from worker.registry import ModelRegistry

log = logging.getLogger(__name__)
LOCAL_KEPT = 2  # bundles kept in the on-disk cache: the one served and the one before it (a rollback)
BAD_POINTER = "(the live pointer)"  # key in ModelCache.broken while `current` holds no valid version


class ModelCache:
    """The model this worker process serves, swapped in whole when the registry's live version changes."""

    def __init__(self, local_dir: Path | None = None) -> None:
        self.local_dir = local_dir  # bundles are also kept here, so a restart needs no download
        self.predictor: AnyPredictor | None = None
        self.broken: dict[str, str] = {}  # version -> why it could not be loaded
        self._lock = threading.Lock()

    def load_problem(self) -> str | None:
        """Why the live version is not the one being served, if it is not."""
        if self.broken and self.predictor is not None:
            return "; ".join(f"model {v} could not be loaded ({why})" for v, why in self.broken.items())
        return None

    def _fetch(self, registry: ModelRegistry, version: str) -> bytes:
        local = self.local_dir / f"{bundles.check_version(version)}{bundles.SUFFIX}" if self.local_dir else None
        if local is not None and local.exists():
            data = local.read_bytes()
            if hashlib.sha256(data).hexdigest() == registry.meta(version)["sha256"]:
                os.utime(local)  # recently used: pruned last
                return data
        data = registry.bundle_bytes(version)
        if local is not None:
            try:
                local.parent.mkdir(parents=True, exist_ok=True)
                tmp = local.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(data)
                tmp.replace(local)
                self._prune_local(keep=local)
            except OSError as exc:  # a full disk costs the next restart a download, nothing more
                log.warning("bundle %s not cached on disk: %s", version, exc)
        return data

    def _prune_local(self, keep: Path) -> None:
        """Keep the LOCAL_KEPT most recently used bundles on disk (one is ~90 MB for minilm), ``keep`` always."""
        cached = sorted(
            (p for p in keep.parent.glob(f"*{bundles.SUFFIX}") if p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in cached[LOCAL_KEPT - 1 :]:
            old.unlink(missing_ok=True)

    def get_predictor(self, connection: redis.Redis) -> AnyPredictor:
        """The predictor for the live version, loading it first if it changed."""
        registry = ModelRegistry(connection)
        serving = self.predictor
        try:
            version = registry.current()
        except ModelError as exc:  # the pointer holds no version (a path, say): never followed
            if BAD_POINTER not in self.broken:
                log.error("live model pointer refused: %s", exc)
                self.broken[BAD_POINTER] = str(exc)
            if serving is None:
                raise ModelUnavailable(f"The live model cannot be loaded: {exc}") from None
            return serving
        self.broken.pop(BAD_POINTER, None)
        if version is None and serving is None:
            raise ModelUnavailable("No model is live yet: an admin has to train one first (/retrain).")
        if version is None or (serving is not None and serving.version == version) or version in self.broken:
            if serving is None:
                raise ModelUnavailable(f"The live model {version} cannot be loaded: {self.broken[version]}")
            return serving
        with self._lock:
            if self.predictor is not None and self.predictor.version == version:
                return self.predictor
            try:
                predictor = load_predictor(self._fetch(registry, version))
            except (ModelError, NotFound) as exc:  # missing, damaged, or any error while loading it
                log.error("model %s refused: %s", version, exc)
                self.broken[version] = str(exc)
                registry.mark_broken(version, str(exc))
                if self.predictor is None:
                    raise ModelUnavailable(f"The live model {version} cannot be loaded: {exc}") from None
                return self.predictor
            log.info("now serving model %s (%s)", version, predictor.bundle.meta.get("arch"))
            self.predictor = predictor
            return predictor
