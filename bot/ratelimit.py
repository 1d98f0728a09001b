"""Per-user rate limit: a sliding window of message times, in the bot's memory.

Users idle for longer than the window are forgotten (swept once a window), so the memory it
holds is bounded by the users active in the last minute or two, not by everyone ever seen.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque


class RateLimiter:
    """Allow at most ``limit`` messages per user in any ``window_s`` seconds (0 = no limit)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._seen: dict[int, deque[float]] = defaultdict(deque)
        self._swept_at = 0.0

    def allow(self, user_id: int, now: float | None = None) -> bool:
        """Record a message and say whether it is within the limit."""
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        if now - self._swept_at >= self.window_s:
            self._forget_idle(now)
        times = self._seen[user_id]
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        self._swept_at = now
        for user_id in [u for u, times in self._seen.items() if not times or now - times[-1] >= self.window_s]:
            del self._seen[user_id]

    @property
    def tracked_users(self) -> int:
        """Users the limiter holds message times for (bounded by recent activity)."""
        return len(self._seen)

    def retry_after(self, user_id: int, now: float | None = None) -> int:
        """Seconds until the user may send again."""
        now = time.monotonic() if now is None else now
        times = self._seen.get(user_id)
        return max(1, int(self.window_s - (now - times[0])) + 1) if times else 0
