"""The model registry in Redis: every bundle's bytes, a version list and the `current` pointer.

Workers on any machine read bundles from here, so no shared disk is needed. Promoting a version
only moves the pointer; each worker notices on its next job and swaps models (see model_cache).
Keys (all under ``sentibot:model:``): ``bundle:<v>`` bytes, ``meta:<v>`` JSON, ``versions`` sorted
set by creation time, ``current`` the live version, ``previous`` a stack for rollback.

Bundles are 2–40 MB (90 MB for the fine-tuned encoder), so Redis memory is bounded twice: the live
bundle and the newest rollback target always keep their bytes; other versions keep theirs, newest
first, while they are among the newest KEEP_BUNDLES and all kept bytes stay within STORE_BUDGET_BYTES.
Older versions keep their record (marked ``pruned``) so `sentibot model list` still shows them.
"""

from __future__ import annotations

import hashlib
import json
import time

import redis

from model.bundle import check_version, read_meta
from model.errors import BundleCorrupt
from worker.errors import NotFound

PREFIX = "sentibot:model:"
CURRENT = PREFIX + "current"
PREVIOUS = PREFIX + "previous"
VERSIONS = PREFIX + "versions"
KEEP_BUNDLES = 5  # newest bundles kept besides the live one and the rollback target
STORE_BUDGET_BYTES = 320 * 2**20  # bundle bytes kept in Redis at most (live + rollback target may exceed it)
ROLLBACK_DEPTH = 5  # rollbacks possible in a row, while their bundles are kept


# What the registry keeps of a bundle's metadata (the quality gate and /model read these).
RECORDED = (
    "version",
    "arch",
    "params",
    "test_accuracy",
    "test_reviews",
    "short_dev_accuracy",
    "temperature",
    "pretrained",
    "created_at",
    "history",
    "schedule",
    "parts",  # a blend's parts in the order they are mixed, their figures, its rule and how much of the
    "part_summaries",  # test MiniLM read (/model shows them)
    "rule",
    "minilm_share",
)


def _bundle_key(version: str) -> str:
    return f"{PREFIX}bundle:{check_version(version)}"


def _meta_key(version: str) -> str:
    return f"{PREFIX}meta:{check_version(version)}"


def _is_version(name: str) -> bool:
    try:
        check_version(name)
    except BundleCorrupt:
        return False
    return True


class ModelRegistry:
    """Add, list, promote and roll back model versions stored in Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def add(self, data: bytes, promote: bool = False) -> dict:
        """Store a bundle after verifying it; a damaged one raises BundleCorrupt and stores nothing."""
        meta = read_meta(data)
        version = meta["version"]
        record = {
            **{k: meta.get(k) for k in RECORDED},
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
        self.prune()
        return record

    def prune(self, keep: int = KEEP_BUNDLES, budget: int = STORE_BUDGET_BYTES) -> list[str]:
        """Drop the bytes of versions past the newest ``keep`` or past ``budget`` bytes; the live one and
        the newest rollback target always stay."""
        names = [v.decode() for v in self.connection.zrevrange(VERSIONS, 0, -1)]
        names = [name for name in names if _is_version(name)]
        rollback = [v.decode() for v in self.connection.lrange(PREVIOUS, 0, -1)]
        rollback = [name for name in rollback if _is_version(name)]
        always = {self.current(), *rollback[-1:]}
        sizes = {name: int(self.connection.strlen(_bundle_key(name))) for name in names}
        kept_bytes = sum(sizes[name] for name in always if name in sizes)
        keep_too: set[str] = set()
        for name in [*reversed(rollback), *names]:  # rollback targets first, then the newest
            if name in always or name in keep_too or not sizes.get(name):
                continue
            if len(keep_too) < keep and kept_bytes + sizes[name] <= budget:
                keep_too.add(name)
                kept_bytes += sizes[name]
        pruned = []
        for name in names:
            if name in always or name in keep_too or not sizes[name]:
                continue
            record = self.meta(name)
            with self.connection.pipeline() as pipe:
                pipe.delete(_bundle_key(name))
                pipe.set(_meta_key(name), json.dumps({**record, "pruned": True}))
                pipe.execute()
            pruned.append(name)
        return pruned

    def meta(self, version: str) -> dict:
        """One version's record; raises NotFound for an unknown version."""
        raw = self.connection.get(_meta_key(version))
        if raw is None:
            raise NotFound(f"No model version {version!r} in the registry; `sentibot model list` shows them.")
        return json.loads(raw)

    def versions(self) -> list[dict]:
        """All records, newest first, with ``live`` marking the current one."""
        names = [v.decode() for v in self.connection.zrevrange(VERSIONS, 0, -1)]
        names = [name for name in names if _is_version(name)]  # anything else was never added by sentibot
        current = self.current()
        raws = self.connection.mget([_meta_key(v) for v in names]) if names else []
        return [{**json.loads(raw), "live": name == current} for name, raw in zip(names, raws, strict=True) if raw]

    def current(self) -> str | None:
        """The live version, or None before the first model."""
        raw = self.connection.get(CURRENT)
        return check_version(raw.decode(errors="replace")) if raw else None

    def current_meta(self) -> dict | None:
        """The live version's record, or None."""
        version = self.current()
        return self.meta(version) if version else None

    def bundle_bytes(self, version: str) -> bytes:
        """The stored bundle, checked against the sha256 recorded when it was added."""
        data = self.connection.get(_bundle_key(version))
        if data is None:
            if self.connection.exists(_meta_key(version)) and self.meta(version).get("pruned"):
                raise NotFound(
                    f"Model {version}'s bundle was pruned (Redis keeps the newest {KEEP_BUNDLES} "
                    f"within {STORE_BUDGET_BYTES // 2**20} MB, plus the live one and the rollback target)."
                )
            raise NotFound(f"No model version {version!r} in the registry.")
        if hashlib.sha256(data).hexdigest() != self.meta(version)["sha256"]:
            raise BundleCorrupt(f"Model {version} is damaged in the registry (checksum mismatch).")
        return data

    def promote(self, version: str) -> None:
        """Make ``version`` live; the one it replaces can be restored with rollback()."""
        record = self.meta(version)
        if record.get("error"):
            raise BundleCorrupt(f"Model {version} cannot go live: {record['error']}")
        if record.get("pruned"):
            raise NotFound(f"Model {version} cannot go live: its bundle was pruned; add it again from a file.")
        previous = self.current()
        with self.connection.pipeline() as pipe:
            if previous and previous != version:
                pipe.rpush(PREVIOUS, previous)
                pipe.ltrim(PREVIOUS, -ROLLBACK_DEPTH, -1)
            pipe.set(CURRENT, version)
            pipe.execute()

    def rollback(self) -> str:
        """Make the previously live version live again and return it (skipping any whose bundle was pruned)."""
        while (raw := self.connection.rpop(PREVIOUS)) is not None:
            version = raw.decode(errors="replace")
            if _is_version(version) and self.connection.exists(_bundle_key(version)):
                self.connection.set(CURRENT, version)
                return version
        raise NotFound("There is no earlier live model (with its bundle still kept) to roll back to.")

    def mark_broken(self, version: str, error: str) -> None:
        """Record that a version failed to load, so `model list` shows it."""
        try:
            record = self.meta(version)
        except NotFound:
            return
        record["error"] = error
        self.connection.set(_meta_key(version), json.dumps(record))
