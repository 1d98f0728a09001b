"""Random Unicode through the whole path: the real bot, a real worker and Redis, via the Bot API stand-in.

Whatever a user sends (control characters, RTL marks, lone surrogates, emoji, 4,096 characters),
no exception escapes a handler and every message gets exactly one reply. CI runs a few hundred
examples; `bench/fuzz.py` runs 10,000.
"""

from __future__ import annotations

import pytest

from tests.live_stack import LiveStack, send_fuzz

pytestmark = pytest.mark.slow  # starts redis, a worker and the bot

EXAMPLES = 300


@pytest.fixture(scope="module")
def live(bundle_path, tmp_path_factory):
    stack = LiveStack(home=tmp_path_factory.mktemp("fuzz"), bundle=bundle_path.read_bytes()).start()
    yield stack
    stack.stop()


def one_reply_each(live: LiveStack, chats: list[int], timeout: float = 30) -> None:
    """Every chat got exactly one message from the bot, and the bot logged no error."""
    live.standin.wait_for(lambda s: all(s.calls(c, "sendMessage") for c in chats), timeout)
    counts = {c: len(live.standin.calls(c, "sendMessage")) for c in chats}
    assert set(counts.values()) == {1}, {c: n for c, n in counts.items() if n != 1}
    log = (live.home / "bot.log").read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-2000:]


def test_random_unicode_always_gets_one_reply(live):
    """A few hundred hypothesis examples, each from its own user; then each chat holds one reply."""
    chats = send_fuzz(live, EXAMPLES, first_user=100_000, timeout=15)
    one_reply_each(live, chats)
    assert len(chats) >= EXAMPLES
