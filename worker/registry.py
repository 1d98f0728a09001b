"""The model registry in Redis: every bundle's bytes, a version list and the `current` pointer.

Workers on any machine read bundles from here, so no shared disk is needed. Promoting a version
only moves the pointer; each worker notices on its next job and swaps models (see model_cache).
Keys (all under ``sentibot:model:``): ``bundle:<v>`` bytes, ``meta:<v>`` JSON, ``versions`` sorted
set by creation time, ``current`` the live version, ``previous`` a stack for rollback.
"""

from __future__ import annotations

import hashlib
import json
import time

import redis

from model.bundle import read_meta
from model.errors import BundleCorrupt
from worker.errors import NotFound

PREFIX = "sentibot:model:"
CURRENT = PREFIX + "current"
PREVIOUS = PREFIX + "previous"
VERSIONS = PREFIX + "versions"


def _bundle_key(version: str) -> str:
    return f"{PREFIX}bundle:{version}"


def _meta_key(version: str) -> str:
    return f"{PREFIX}meta:{version}"


class ModelRegistry:
    """Add, list, promote and roll back model versions stored in Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def add(self, data: bytes, promote: bool = False) -> dict:
        """Store a bundle after verifying it; a damaged one raises BundleCorrupt and stores nothing."""
        meta = read_meta(data)
        version = meta["version"]
        record = {
            **{k: meta.get(k) for k in ("version", "arch", "params", "test_accuracy", "created_at", "history")},
            "hyperparameters": meta.get("hyperparameters", {}),
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "added_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "error": None,
        }
        with self.connection.pipeline() as pipe:
            pipe.set(_bundle_key(version), data)
            pipe.set(_meta_key(version), json.dumps(record))
            pipe.zadd(VERSIONS, {version: time.time()})
            pipe.execute()
        if promote:
            self.promote(version)
        return record

    def meta(self, version: str) -> dict:
        """One version's record; raises NotFound for an unknown version."""
        raw = self.connection.get(_meta_key(version))
        if raw is None:
            raise NotFound(f"No model version {version!r} in the registry; `sentibot model list` shows them.")
        return json.loads(raw)

    def versions(self) -> list[dict]:
        """All records, newest first, with ``live`` marking the current one."""
        names = [v.decode() for v in self.connection.zrevrange(VERSIONS, 0, -1)]
        current = self.current()
        raws = self.connection.mget([_meta_key(v) for v in names]) if names else []
        return [{**json.loads(raw), "live": name == current} for name, raw in zip(names, raws, strict=True) if raw]

    def current(self) -> str | None:
        """The live version, or None before the first model."""
        raw = self.connection.get(CURRENT)
        return raw.decode() if raw else None

    def current_meta(self) -> dict | None:
        """The live version's record, or None."""
        version = self.current()
        return self.meta(version) if version else None

    def bundle_bytes(self, version: str) -> bytes:
        """The stored bundle, checked against the sha256 recorded when it was added."""
        data = self.connection.get(_bundle_key(version))
        if data is None:
            raise NotFound(f"No model version {version!r} in the registry.")
        if hashlib.sha256(data).hexdigest() != self.meta(version)["sha256"]:
            raise BundleCorrupt(f"Model {version} is damaged in the registry (checksum mismatch).")
        return data

    def promote(self, version: str) -> None:
        """Make ``version`` live; the one it replaces can be restored with rollback()."""
        record = self.meta(version)
        if record.get("error"):
            raise BundleCorrupt(f"Model {version} cannot go live: {record['error']}")
        previous = self.current()
        with self.connection.pipeline() as pipe:
            if previous and previous != version:
                pipe.rpush(PREVIOUS, previous)
            pipe.set(CURRENT, version)
            pipe.execute()

    def rollback(self) -> str:
        """Make the previously live version live again and return it."""
        raw = self.connection.rpop(PREVIOUS)
        if raw is None:
            raise NotFound("There is no earlier live model to roll back to.")
        version = raw.decode()
        self.connection.set(CURRENT, version)
        return version

    def mark_broken(self, version: str, error: str) -> None:
        """Record that a version failed to load, so `model list` shows it."""
        try:
            record = self.meta(version)
        except NotFound:
            return
        record["error"] = error
        self.connection.set(_meta_key(version), json.dumps(record))
