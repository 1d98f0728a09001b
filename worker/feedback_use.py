"""How users' feedback may be used: no one user steers a training, and admins see the odd items first.

Feedback poisoning: one user may store FEEDBACK_PER_DAY (200) labelled items a day, and
`/retrain feedback=yes` trains on them. :func:`capped` keeps each user's newest items only up to a
share of what a training uses (MAX_USER_SHARE), with a floor (MIN_PER_USER) so a small deployment's
few honest users still count. :func:`most_disagreeing` ranks items by how far the live model's score
is from the label a user gave: a 👎 on a verdict the model is sure of is either the model's worst
mistake or an attack, and the admin should read it before training on it (`/feedback`).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from worker.feedback import LABELS, Item

log = logging.getLogger(__name__)

MAX_USER_SHARE = 0.2  # one user's items are at most this share of the items a training uses...
MIN_PER_USER = 50  # ...or this many, whichever is more


def per_user_cap(counts: list[int], share: float = MAX_USER_SHARE, floor: int = MIN_PER_USER) -> int:
    """The largest c with c <= share * sum(min(n, c)) over users (each user's items capped at c), at least ``floor``."""
    low, high = 0, max(counts, default=0)
    while low < high:  # sum(min(n, c)) / c only falls as c grows, so the condition holds on [1, c*]
        middle = (low + high + 1) // 2
        if middle <= share * sum(min(n, middle) for n in counts):
            low = middle
        else:
            high = middle - 1
    return max(low, floor)


def capped(items: list[Item]) -> list[Item]:
    """The items a training may use: each user's newest, up to :func:`per_user_cap`; oldest first."""
    by_user: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_user[item.user].append(item)
    cap = per_user_cap([len(mine) for mine in by_user.values()])
    kept = [item for mine in by_user.values() for item in sorted(mine, key=lambda i: -i.at)[:cap]]
    if len(kept) < len(items):
        log.info("feedback: %d of %d items used (at most %d per user)", len(kept), len(items), cap)
    return sorted(kept, key=lambda item: item.at)


def most_disagreeing(items: list[Item], scores: list[float], top: int = 5) -> list[dict]:
    """The ``top`` items whose label the live model disagrees with most: ``{"text", "label", "score"}``,
    ``score`` being the live model's P(positive)."""
    ranked = sorted(zip(items, scores, strict=True), key=lambda pair: -abs(LABELS.index(pair[0].label) - pair[1]))
    return [{"text": item.text, "label": item.label, "score": round(score, 4)} for item, score in ranked[:top]]
