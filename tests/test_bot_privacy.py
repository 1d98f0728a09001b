"""Security and privacy through the real bot, worker and Redis, and the Bot API stand-in (issue 21):
one limiter for every tap, /forget that forgets, ratings only by the verdict's author, a group /cancel."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from model.encoding import SEQUENCE, WORDPIECE
from model.explain import MAX_WORDS_TRANSFORMER, word_budget
from tests.conftest import wait_for
from tests.telegram_standin import TelegramStandIn
from tests.test_bot import TOKEN, bot_and_worker, bot_env

pytestmark = pytest.mark.slow  # starts the bot and a worker

LIMIT = 5  # RATE_LIMIT_PER_MINUTE of this module's bot


@pytest.fixture(scope="module")
def standin():
    """The Bot API stand-in on a free port."""
    server = TelegramStandIn(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(standin, redis_server, imdb_dir, tmp_path_factory):
    """A bot (LIMIT actions a minute per user) and a worker on the session's Redis."""
    home = tmp_path_factory.mktemp("privacy-home")
    env = bot_env(home, redis_server.url, standin, IMDB_DATA=str(imdb_dir), RATE_LIMIT_PER_MINUTE=str(LIMIT))
    with bot_and_worker(standin, env, home, "privacy-worker") as running:
        yield running


@pytest.fixture
def ready(stack, connection, live_model):
    """The stack on a flushed Redis with a live model, once the worker's heartbeat is back."""
    wait_for(lambda: connection.exists("sentibot:alive:privacy-worker"), 60)
    return stack


def verdict_of(standin: TelegramStandIn, chat_id: int, text: str, user_id: int | None = None):
    """Send ``text`` (as ``user_id`` into ``chat_id``) and return the bot's verdict message."""
    before = len(standin.calls(chat_id, "sendMessage"))
    standin.send_text(user_id or chat_id, text, chat_id=chat_id if user_id else None)
    return standin.wait_for(
        lambda s: [c for c in s.calls(chat_id, "sendMessage")[before:] if c.params.get("reply_markup")]
    )[-1]


def answers(standin: TelegramStandIn, needle: str) -> list:
    """answerCallbackQuery calls whose text contains ``needle``."""
    return [c for c in standin.calls(method="answerCallbackQuery") if needle in c.params.get("text", "")]


# --- 21.3: one limiter for every path ---------------------------------------------------------------


def test_why_taps_count_against_the_same_limit_as_reviews(ready, standin, connection):
    """A review and then Why? tapped (replayed) again and again: LIMIT actions in all, then "Slow down" and
    no more explain jobs; a rating tap past the limit is refused the same way."""
    user = 301
    verdict = verdict_of(standin, user, "a superb and touching film")
    why, _up, down = verdict.params["reply_markup"]["inline_keyboard"][0]
    for _ in range(LIMIT + 2):
        standin.press_button(user, verdict.message_id, why["callback_data"])
    wait_for(lambda: len(answers(standin, "Slow down")) == 3, 20)
    wait_for(lambda: len([t for t in standin.texts(user) if t.startswith("Why positive")]) == LIMIT - 1, 20)
    standin.press_button(user, verdict.message_id, down["callback_data"])
    wait_for(lambda: len(answers(standin, "Slow down")) == 4, 20)
    assert len([t for t in standin.texts(user) if t.startswith("Why positive")]) == LIMIT - 1


def test_a_why_on_the_transformer_leaves_out_fewer_words():
    """Why? costs one model row per word left out: 48 at most for the transformer's 256-piece rows."""
    assert word_budget(SimpleNamespace(layout=WORDPIECE)) == MAX_WORDS_TRANSFORMER <= 48
    assert word_budget(SimpleNamespace(layout=SEQUENCE)) == 200
