"""Inline mode end to end: ``@bot <review>`` answered by the real bot through a real worker and Redis,
with the Bot API stand-in playing the user typing in some chat."""

from __future__ import annotations

import time

import pytest

from bot import replies
from common.settings import Settings
from tests.processes import bot_and_worker, bot_env, wait_for

RATE_LIMIT = 4  # a minute, per user: inline queries and messages together


@pytest.fixture(scope="module")
def stack(standin, redis_server, imdb_dir, tmp_path_factory):
    """A bot and one worker (score + train) on the session's redis."""
    home = tmp_path_factory.mktemp("inline-home")
    env = bot_env(home, redis_server.url, standin, IMDB_DATA=str(imdb_dir), RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT))
    with bot_and_worker(standin, env, home, "inline-worker") as running:
        yield running


@pytest.fixture
def ready(stack, connection, live_model):
    wait_for(lambda: connection.exists("sentibot:alive:inline-worker"), 60)
    return stack


def only_result(answer) -> dict:
    (result,) = answer.params["results"]
    return result


def test_an_inline_query_with_no_model_live_says_why(stack, connection, standin):
    """No model yet: one result saying so (not silence, not a traceback), never cached. First in the module:
    a worker that once loaded a model keeps serving it even after Redis is flushed."""
    wait_for(lambda: connection.exists("sentibot:alive:inline-worker"), 60)
    answer = standin.inline_answer(standin.send_inline_query(707, "a superb touching film"))
    result = only_result(answer)
    assert result["id"] == "failed" and "No model is live yet" in result["description"]
    assert answer.params["cache_time"] == 0


@pytest.mark.timed
def test_an_inline_review_is_answered_with_its_verdict(ready, standin):
    """One article: the verdict as title, the confidence as description, "<verdict>: <review>" as the message it
    sends; personal and cached briefly; answered well within Telegram's ~10 s."""
    review = "A superb, touching masterpiece. Loved it!"
    update = standin.send_inline_query(701, review)
    answer = standin.inline_answer(update)
    seconds = answer.at - standin.sent_at[update["update_id"]]
    print(f"inline answer in {seconds:.2f} s")
    result = only_result(answer)
    assert result["type"] == "article" and result["title"] == "Positive"
    assert result["description"].endswith("% sure")
    message = result["input_message_content"]["message_text"]
    assert message.startswith("Positive (") and message.endswith(f"%): {review}")
    assert answer.params["is_personal"] is True and 0 < answer.params["cache_time"] <= 60
    assert seconds < 5
    negative = only_result(standin.inline_answer(standin.send_inline_query(702, "an awful boring mess, a waste")))
    assert negative["title"] == "Negative"


def test_a_long_inline_review_is_cut_in_the_message(ready, standin):
    """The message quotes at most 200 characters of the review, ending in "…"."""
    review = "a superb touching film " * 11  # 253 characters: Telegram's inline queries stop at 256
    message = only_result(standin.inline_answer(standin.send_inline_query(703, review)))["input_message_content"]
    text = message["message_text"]
    quoted = text.split(": ", 1)[1]
    assert quoted.endswith("…") and len(quoted) <= replies.INLINE_EXCERPT_CHARS and review.startswith(quoted[:-1])


@pytest.mark.parametrize("query", ["", "  ", "ab", "!!! ???"])
def test_an_empty_or_too_short_query_gets_a_hint(ready, standin, query):
    """Nothing typed yet, two letters, or no words: a hint result, not silence; nothing is queued."""
    result = only_result(standin.inline_answer(standin.send_inline_query(704, query)))
    assert result["id"] == "hint" and "review" in result["title"]
    assert "@username" in result["input_message_content"]["message_text"]


def test_inline_queries_share_the_reviews_rate_limit(ready, standin):
    """Past RATE_LIMIT reviews a minute, inline or sent, the next query is told to slow down, and so is a
    message after it."""
    user = 705
    standin.send_text(user, "a superb touching film")
    standin.wait_text(user, "Positive")
    for i in range(RATE_LIMIT - 1):
        assert only_result(standin.inline_answer(standin.send_inline_query(user, f"loved it {i}")))["id"] != "limited"
    limited = only_result(standin.inline_answer(standin.send_inline_query(user, "a wonderful film")))
    assert limited["id"] == "limited" and limited["title"].startswith("Slow down")
    standin.send_text(user, "a great film")
    assert standin.wait_text(user, "Slow down")


def test_a_chosen_inline_result_posted_in_the_bots_chat_is_not_scored_again(ready, standin):
    """The user sends our own inline result into the bot's chat: no second verdict for it; a review after
    it is answered as usual."""
    user = 706
    standin.send_text(user, "Positive (97%): a superb touching film", via_bot=True)
    standin.send_text(user, "an awful boring mess")
    standin.wait_text(user, "Negative")
    time.sleep(1)  # had the first been scored, its verdict would be here by now
    assert [t.split(" ")[0] for t in standin.texts(user)] == ["Negative"]


def test_inline_titles_and_messages():
    """Mixed scores say so; the confidence is the verdict's, not P(positive)."""
    band = Settings().mixed_band
    assert replies.inline_title({"label": "negative", "score": 0.1}, band) == ("Negative", "90% sure")
    assert replies.inline_title({"label": "positive", "score": 0.55}, band) == ("Mixed / not sure", "55% positive")
    text = replies.inline_message({"label": "positive", "score": 0.55}, "fine I guess", band)
    assert text == "Mixed / not sure (55% positive): fine I guess"


def test_inline_queries_are_counted_as_their_own_kind():
    """sentibot_updates_total{kind="inline"}: inline use shows apart from reviews sent to the bot."""
    from telegram import Update

    from bot.metrics import kind_of

    user = {"id": 1, "is_bot": False, "first_name": "U"}
    update = Update.de_json({"update_id": 1, "inline_query": {"id": "9", "from": user, "query": "x", "offset": ""}})
    assert kind_of(update) == "inline"
