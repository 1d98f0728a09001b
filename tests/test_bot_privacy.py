"""Security and privacy through the real bot, worker and Redis, and the Bot API stand-in (issue 21):
one limiter for every tap, /forget that forgets, ratings only by the verdict's author, a group /cancel."""

from __future__ import annotations

import pytest

from model.explain import MAX_WORDS_TRANSFORMER, word_budget
from tests.processes import ADMIN, bot_and_worker, bot_env, wait_for
from tests.telegram_standin import TelegramStandIn

pytestmark = pytest.mark.slow  # starts the bot and a worker

LIMIT = 5  # RATE_LIMIT_PER_MINUTE of this module's bot


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


def answers(standin: TelegramStandIn, needle: str) -> list:  # also used as a wait_for predicate
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
    from model.architectures import default_encoder

    assert word_budget(default_encoder("minilm")) == MAX_WORDS_TRANSFORMER <= 48
    assert word_budget(default_encoder("tutorial")) == word_budget(default_encoder("nbsvm")) == 200


# --- 21.7: /forget keeps its word; hashes with a key Redis never sees; ratings by the author only -----


def everything_in(connection) -> bytes:
    """Every key and plain value in Redis (RQ compresses job data, so jobs are checked by id instead)."""
    out: list[bytes] = []
    for key in connection.scan_iter(count=1000):
        kind = connection.type(key).decode()
        out.append(key)
        if kind == "string":
            out.append(connection.get(key) or b"")
        elif kind == "hash":
            out += [k + b"=" + v for k, v in connection.hgetall(key).items()]
        elif kind == "list":
            out += connection.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            out += list(connection.smembers(key) if kind == "set" else connection.zrange(key, 0, -1))
        elif kind == "stream":
            out += [k + b"=" + v for _, entry in connection.xrange(key) for k, v in entry.items()]
    return b"\n".join(out)


def test_forget_deletes_every_review_job_result_and_rating_of_the_user(ready, standin, connection):
    """A scored review (kept for its buttons, explained, rated 👎) and a review still queued (worker stopped):
    jobs carry only the text, no ids; /forget says what it deleted, and then no job, result, kept review or
    rating of the user is left; the hash key is in SENTIBOT_HOME, never in Redis."""
    import os
    import signal

    from rq.job import Job
    from rq.results import Result
    from rq.serializers import JSONSerializer

    from worker import feedback, identity
    from worker.forget import OWNED

    user, scored, queued = 311, "a superb and touching film by Zebediah", "a brilliant film Quentavious loved"
    key_file = ready["home"] / "user-hash.key"
    key = key_file.read_bytes().strip()
    owner = identity.user_hash(key, user)
    verdict = verdict_of(standin, user, scored)
    why, _up, down = verdict.params["reply_markup"]["inline_keyboard"][0]
    standin.press_button(user, verdict.message_id, why["callback_data"])
    standin.wait_text(user, "Why positive")
    standin.press_button(user, verdict.message_id, down["callback_data"])
    wait_for(lambda: len(feedback.items(connection)) == 1, 15)
    worker = ready["worker"]
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        standin.send_text(user, queued)
        standin.wait_text(user, "couldn't score that", timeout=20)
        ids = [raw.decode() for raw in connection.smembers(OWNED.format(owner=owner))]
        assert len(ids) == 3  # the review, its Why? and the queued one
        jobs = [Job.fetch(i, connection=connection, serializer=JSONSerializer) for i in ids]
        assert all(set(job.kwargs) == {"text"} and not job.args for job in jobs)  # no chat or user id
        standin.send_text(user, "/forget")
        reply = standin.wait_text(user, "Done: I deleted")
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    assert "the 1 review you rated" in reply and "3 reviews you had me score or explain" in reply
    for job_id in ids:
        assert not Job.exists(job_id, connection=connection)
        assert not connection.exists(Result.get_key(job_id), f"sentibot:review:{job_id}")
    dump = everything_in(connection)
    assert b"Zebediah" not in dump and b"Quentavious" not in dump and owner.encode() not in dump
    assert key not in dump and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert feedback.items(connection) == []
    assert verdict_of(standin, user, "a superb film").params["text"].startswith("Positive")  # the worker goes on
    standin.send_text(user, "/forget")
    assert "Done: I deleted 1 review" in standin.wait_text(user, "Done: I deleted 1 review")


def test_in_a_group_only_the_reviews_author_can_rate_it(ready, standin, connection):
    """Someone else's 👎 under a group verdict is refused with a sentence and stores nothing; the author's counts."""
    from worker import feedback

    group, author, other = -500, 321, 322
    verdict = verdict_of(standin, group, "@sentibot_test_bot a superb and touching film", user_id=author)
    _why, _up, down = verdict.params["reply_markup"]["inline_keyboard"][0]
    standin.press_button(other, verdict.message_id, down["callback_data"], chat_id=group)
    wait_for(lambda: answers(standin, "Only the person who sent that review can rate it"), 15)
    assert feedback.items(connection) == []
    standin.press_button(author, verdict.message_id, down["callback_data"], chat_id=group)
    wait_for(lambda: len(feedback.items(connection)) == 1, 15)


# --- 21.11: a group /cancel question ------------------------------------------------------------------


def test_a_group_cancel_question_names_nobody_and_a_non_admins_tap_changes_nothing(ready, standin, connection):
    """An admin's /cancel in a group: the question shows no admin name or id; a non-admin's "Yes" is answered
    to the tapper alone (an alert) and the question keeps its buttons; the admin's "No" still works."""
    import json
    import time

    from worker import training

    group, member = -600, 331
    record = {"job_id": "train-abc123", "requested_by": f"Alice Admin (id {ADMIN})", "taken_at": time.time()}
    connection.set(training.LOCK, json.dumps(record), ex=60)  # a training being started: the lock, no job yet
    standin.send_text(ADMIN, "/cancel", chat_id=group)
    question = standin.wait_for(
        lambda s: [c for c in s.calls(group, "sendMessage") if c.params["text"].startswith("Stop training")]
    )[-1]
    assert "Alice" not in question.params["text"] and str(ADMIN) not in question.params["text"]
    yes, no = question.params["reply_markup"]["inline_keyboard"][0]
    edits = len(standin.calls(group, "editMessageText")) + len(standin.calls(group, "editMessageReplyMarkup"))
    standin.press_button(member, question.message_id, yes["callback_data"], chat_id=group)
    alert = standin.wait_for(lambda s: answers(s, "Only the bot's admins can cancel"))[-1]
    assert alert.params.get("show_alert") in (True, "true", "True")
    time.sleep(1)  # an edit would have come by now
    assert len(standin.calls(group, "editMessageText")) + len(standin.calls(group, "editMessageReplyMarkup")) == edits
    assert standin.messages[(group, question.message_id)]["reply_markup"]["inline_keyboard"][0][0] == yes
    assert connection.exists(training.LOCK)
    standin.press_button(ADMIN, question.message_id, no["callback_data"], chat_id=group)
    standin.wait_text(group, "OK, the training goes on.")
    connection.delete(training.LOCK)


# --- 21.12: feedback poisoning ---------------------------------------------------------------------


def test_feedback_shows_the_items_the_live_model_disagrees_with_most(ready, standin, connection):
    """/feedback (admin) lists first the items whose label the live model contradicts most: a "negative" on a
    glowing review and a "positive" on a scathing one come before a mild one, with the model's score."""

    from worker import feedback

    stored = [
        ("a film with a plot", "positive"),
        ("superb brilliant wonderful masterpiece, loved it", "negative"),
        ("awful boring terrible mess, worst waste", "positive"),
    ]
    for i, (text, label) in enumerate(stored):
        feedback.record(connection, f"user{i}", text, label, "positive", "v0", per_day=10)
    standin.send_text(ADMIN, "/feedback")
    report = standin.wait_text(ADMIN, "Disagree most with the live model")
    lines = report.split("Disagree most with the live model")[1].splitlines()[1:]
    assert lines[0].startswith("• negative (") and "superb brilliant" in lines[0]
    assert lines[1].startswith("• positive (") and "awful boring" in lines[1]
    assert "a film with a plot" in lines[2]
    assert "at most 20% of its feedback from one user" in report
