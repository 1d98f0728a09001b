"""Random Unicode through the whole path: the real bot, a real worker and Redis, via the Bot API stand-in.

Whatever a user sends (control characters, RTL marks, lone surrogates, emoji, 4,096 characters),
no exception escapes a handler and every message gets exactly one reply. CI runs a few hundred
examples; `bench/fuzz.py` runs 10,000.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings

from tests.live_stack import MESSAGES, LiveStack

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
    users = itertools.count(100_000)
    chats: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(MESSAGES)
    @example("/\ud83d\udc00 a command with lone surrogates")  # found by bench/fuzz.py: echoed back, it broke the reply
    @example("/" + "x" * 4095)
    def send(text: str) -> None:
        user = next(users)
        live.standin.send_text(user, text)
        chats.append(user)
        live.standin.wait_for(lambda s: s.calls(user, "sendMessage"), timeout=15)

    send()
    one_reply_each(live, chats)
    assert len(chats) >= EXAMPLES
