"""What users teach the model: 👍/👎 under a verdict, kept in Redis until they /forget it.

A tap stores the review with the label the user says is right (👍: the verdict's, 👎: the other
one), the verdict the model gave, the model version, the time, and a keyed hash of the user id
(worker/identity.py; the key is not in Redis): never the id itself. One item per user and text
(tapping again replaces it). Each user may give at most ``per_day`` items a day. ``/forget``
deletes every item a user gave.

Keys (all under ``sentibot:feedback:``): ``items`` (hash: item id → JSON), ``user:<hash>`` (set of
that user's item ids), ``recent`` (list of item ids, newest first, capped), ``day:<hash>:<date>``
(a counter that expires) and, on deployments older than keyed hashes, ``salt`` (read only, so that
/forget also finds items stored under the old salted hash).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass

import redis

from worker.connection import reachable
from worker.errors import BadFeedbackFile, FeedbackLimit
from worker.queues import MAX_TEXT_CHARS
from worker.spreadsheet import restore_cell, safe_cell

PREFIX = "sentibot:feedback:"
ITEMS = PREFIX + "items"
RECENT = PREFIX + "recent"
SALT = PREFIX + "salt"
RECENT_KEPT = 200
LABELS = ("negative", "positive")
CSV_FIELDS = ("text", "label", "given", "model", "at", "user")


@dataclass(frozen=True)
class Item:
    """One review a user labelled."""

    text: str
    label: str  # what the user says is right: "positive" or "negative"
    given: str  # what the model said
    model: str  # the model version that gave it
    at: float  # unix time
    user: str  # keyed hash of the user id (imported items: the other deployment's hash)

    @property
    def agreed(self) -> bool:
        """Whether the user agreed with the model (a 👍)."""
        return self.label == self.given


def legacy_hash(connection: redis.Redis, user_id: int) -> str | None:
    """The hash items were stored under before keyed hashes (a salt kept in Redis): /forget deletes those
    too. None when this deployment never had a salt."""
    with reachable(connection):
        old_salt = connection.get(SALT)
    return hashlib.sha256(old_salt + str(user_id).encode()).hexdigest()[:32] if old_salt else None


def _item_id(user: str, text: str) -> str:
    return hashlib.sha256(f"{user}\n{' '.join(text.lower().split())}".encode()).hexdigest()[:32]


def _user_key(user: str) -> str:
    return f"{PREFIX}user:{user}"


def _day_key(user: str, now: float) -> str:
    return f"{PREFIX}day:{user}:{time.strftime('%Y%m%d', time.gmtime(now))}"


def record(connection: redis.Redis, user: str, text: str, label: str, given: str, model: str, per_day: int) -> bool:
    """Store that ``label`` is right for ``text`` (the model said ``given``); True if new, False if it
    replaced this user's earlier tap on the same text.

    ``user`` is the keyed hash of the user id (worker/identity.py), never the id. Raises
    :class:`FeedbackLimit` past ``per_day`` new items for this user today.
    """
    if label not in LABELS or given not in LABELS:
        raise ValueError(f"labels are {LABELS}, got {label!r} and {given!r}")
    now = time.time()
    item = Item(text=text[:MAX_TEXT_CHARS], label=label, given=given, model=model, at=round(now, 6), user=user)
    item_id = _item_id(user, text)
    with reachable(connection):
        if connection.hexists(ITEMS, item_id):
            connection.hset(ITEMS, item_id, json.dumps(asdict(item)))
            return False
        day = _day_key(user, now)
        if int(connection.incr(day)) > per_day:
            connection.decr(day)
            raise FeedbackLimit(f"Thanks, but that's {per_day} reviews from you today already: try again tomorrow.")
        connection.expire(day, 2 * 86400)
        pipe = connection.pipeline()
        pipe.hset(ITEMS, item_id, json.dumps(asdict(item)))
        pipe.sadd(_user_key(user), item_id)
        pipe.lpush(RECENT, item_id)
        pipe.ltrim(RECENT, 0, RECENT_KEPT - 1)
        pipe.execute()
    return True


def forget(connection: redis.Redis, users: list[str]) -> int:
    """Delete everything these user hashes (one person's keyed and legacy hash) gave; returns how many items went."""
    gone = 0
    with reachable(connection):
        for user in users:
            ids = [raw.decode() for raw in connection.smembers(_user_key(user))]
            pipe = connection.pipeline()
            if ids:
                pipe.hdel(ITEMS, *ids)
                for item_id in ids:
                    pipe.lrem(RECENT, 0, item_id)
            pipe.delete(_user_key(user))
            for day in connection.scan_iter(match=f"{PREFIX}day:{user}:*", count=100):
                pipe.delete(day)
            pipe.execute()
            gone += len(ids)
    return gone


def items(connection: redis.Redis) -> list[Item]:
    """Every stored item, oldest first."""
    with reachable(connection):
        raw = connection.hvals(ITEMS)
    return sorted((Item(**json.loads(value)) for value in raw), key=lambda item: item.at)


def recent_corrections(connection: redis.Redis, count: int = 5) -> list[Item]:
    """The newest 👎 items (the model was wrong), newest first."""
    with reachable(connection):
        ids = connection.lrange(RECENT, 0, RECENT_KEPT - 1)
        values = connection.hmget(ITEMS, ids) if ids else []
    found = [Item(**json.loads(value)) for value in values if value is not None]
    return [item for item in found if not item.agreed][:count]


@dataclass(frozen=True)
class Summary:
    """What /feedback shows admins."""

    total: int
    agreed: int  # 👍: the model was right
    users: int
    corrections: list[Item]

    @property
    def agreement(self) -> float | None:
        """Share of taps that agreed with the model (None before any tap)."""
        return self.agreed / self.total if self.total else None


def summary(connection: redis.Redis) -> Summary:
    """Counts, agreement and the last few corrections."""
    stored = items(connection)
    return Summary(
        total=len(stored),
        agreed=sum(item.agreed for item in stored),
        users=len({item.user for item in stored}),
        corrections=recent_corrections(connection),
    )


def examples(connection: redis.Redis) -> tuple[list[str], list[int]]:
    """Texts and labels (1 positive) to train on: no one user's share past the cap (worker/feedback_use.py)."""
    from worker.feedback_use import capped  # that module builds on this one's Item

    stored = capped(items(connection))
    return [item.text for item in stored], [LABELS.index(item.label) for item in stored]


def to_csv(stored: list[Item]) -> str:
    """The items as CSV (text, label, given, model, at, user); cells a spreadsheet would run as formulas
    are quoted (worker/spreadsheet.py), and :func:`from_csv` takes the quote off again."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for item in stored:
        row = asdict(item)
        writer.writerow({**row, "text": safe_cell(item.text), "model": safe_cell(item.model)})
    return out.getvalue()


def from_csv(data: str) -> list[Item]:
    """Items from an exported CSV; raises :class:`BadFeedbackFile` naming the first bad row."""
    reader = csv.DictReader(io.StringIO(data))
    if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
        raise BadFeedbackFile("A feedback CSV needs at least the columns text and label (positive or negative).")
    found = []
    for number, row in enumerate(reader, start=2):
        text, label = restore_cell((row.get("text") or "").strip()), (row.get("label") or "").strip().lower()
        if not text or label not in LABELS:
            raise BadFeedbackFile(f"Row {number}: needs a text and a label of positive or negative.")
        try:
            at = float(row.get("at") or time.time())
        except ValueError:
            raise BadFeedbackFile(f"Row {number}: 'at' must be a unix time.") from None
        given = (row.get("given") or label).strip().lower()
        found.append(
            Item(
                text=text[:MAX_TEXT_CHARS],
                label=label,
                given=given if given in LABELS else label,
                model=restore_cell(row.get("model") or "") or "imported",
                at=at,
                user=row.get("user") or "imported",
            )
        )
    return found


def import_items(connection: redis.Redis, stored: list[Item]) -> int:
    """Add items (e.g. from another deployment's export); returns how many were new."""
    added = 0
    with reachable(connection):
        for item in stored:
            item_id = _item_id(item.user, item.text)
            if connection.hsetnx(ITEMS, item_id, json.dumps(asdict(item))):
                connection.sadd(_user_key(item.user), item_id)
                added += 1
    return added
