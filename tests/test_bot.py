"""The Telegram bot end to end: real Application in polling mode against the local Bot API stand-in,
a real redis-server and a real worker process."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from tests.processes import (
    ADMIN,
    FEEDBACK_ADMIN,
    TOKEN,
    RedisServer,
    bot_and_worker,
    bot_env,
    start_bot,
    stop_process,
    wait_for,
)
from tests.telegram_standin import TelegramStandIn
from worker import identity

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes

USER = 7


@pytest.fixture(scope="module")
def stack(standin, redis_server, imdb_dir, tmp_path_factory):
    """A bot process and a worker process (score + train) on the session's redis."""
    home = tmp_path_factory.mktemp("bot-home")
    with bot_and_worker(
        standin, bot_env(home, redis_server.url, standin, IMDB_DATA=str(imdb_dir)), home, "bot-test-worker"
    ) as running:
        yield running


@pytest.fixture
def empty(stack, connection):
    """The stack on a flushed Redis (no model yet), once the worker's heartbeat is back."""
    wait_for(lambda: connection.exists("sentibot:alive:bot-test-worker"), 60)
    return stack


@pytest.fixture
def ready(empty, live_model):
    """The stack with a live model."""
    return empty


def test_start_registers_the_command_menu(stack, standin):
    """setMyCommands lists the commands at start-up."""
    commands = standin.calls(method="setMyCommands")[0].params["commands"]
    assert {c["command"] for c in commands} >= {"help", "model", "status", "retrain", "cancel"}


def test_a_review_gets_its_verdict(ready, standin):
    """Any text is scored through the queue and answered with the verdict and confidence."""
    standin.send_text(101, "A superb, touching masterpiece. Loved it!")
    reply = standin.wait_text(101, "%)")
    assert reply.startswith("Positive (")
    standin.send_text(101, "awful boring mess, worst film, a waste")
    assert standin.wait_text(101, "Negative (")


def test_why_button_lists_the_words_that_decided(ready, standin, connection):
    """Under each verdict a "Why?" button; tapping it lists the words that moved the score, then it goes away."""
    standin.send_text(121, "a superb and touching film")
    verdict = standin.wait_for(
        lambda s: [c for c in s.calls(121, "sendMessage") if c.params["text"].startswith("Positive")]
    )[-1]
    button, *rating = verdict.params["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == "Why?" and button["callback_data"].startswith("why:")
    assert [b["text"] for b in rating] == ["👍", "👎"]
    standin.press_button(121, verdict.message_id, button["callback_data"])
    why = standin.wait_text(121, "Why positive")
    assert "superb" in why or "touching" in why
    assert "towards positive" in why
    standin.wait_for(lambda s: s.calls(121, "editMessageReplyMarkup"))
    left = standin.messages[(121, verdict.message_id)]["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in left] == ["👍", "👎"]  # only the used button went


def test_why_after_the_review_expired_says_so(ready, standin, connection):
    """Reviews are kept a day for the button; after that the tap gets a sentence, not silence."""
    standin.send_text(122, "dull and boring")
    verdict = standin.wait_for(
        lambda s: [c for c in s.calls(122, "sendMessage") if c.params["text"].startswith("Negative")]
    )[-1]
    data = verdict.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert connection.ttl(f"sentibot:review:{data.split(':', 1)[1]}") > 23 * 3600
    connection.delete(f"sentibot:review:{data.split(':', 1)[1]}")
    standin.press_button(122, verdict.message_id, data)
    assert "no longer have that review" in standin.wait_text(122, "no longer")


def test_thumbs_store_the_review_with_the_right_label_and_forget_deletes_it(ready, standin, connection):
    """👎 stores the review with the other label (a salted hash, not the id), thanks once, and the rating
    buttons go; a second tap changes nothing; admins see it in /feedback; /forget deletes it."""
    from worker import feedback

    standin.send_text(USER, "a superb and touching film")
    verdict = standin.wait_for(
        lambda s: [c for c in s.calls(USER, "sendMessage") if c.params["text"].startswith("Positive")]
    )[-1]
    _why, up, down = verdict.params["reply_markup"]["inline_keyboard"][0]
    assert (up["text"], down["text"]) == ("👍", "👎")
    standin.press_button(USER, verdict.message_id, down["callback_data"])
    thanks = standin.wait_for(
        lambda s: [c for c in s.calls(method="answerCallbackQuery") if "Thanks" in c.params.get("text", "")]
    )
    assert len(thanks) == 1
    standin.wait_for(
        lambda s: (
            "reply_markup" in s.messages[(USER, verdict.message_id)]
            and len(s.messages[(USER, verdict.message_id)]["reply_markup"]["inline_keyboard"][0]) == 1
        )
    )
    (item,) = feedback.items(connection)
    assert (item.text, item.label, item.given) == ("a superb and touching film", "negative", "positive")
    key = (ready["home"] / "user-hash.key").read_bytes().strip()  # the bot made it on first start
    assert item.user == identity.user_hash(key, USER) != str(USER) and item.model
    standin.press_button(USER, verdict.message_id, down["callback_data"])  # a stale second tap
    standin.wait_for(
        lambda s: [c for c in s.calls(method="answerCallbackQuery") if "already" in c.params.get("text", "")]
    )
    assert len(feedback.items(connection)) == 1
    standin.send_text(USER, "/feedback")
    standin.wait_text(USER, "only the bot's admins")
    standin.send_text(ADMIN, "/feedback")
    report = standin.wait_text(ADMIN, "Feedback: 1 reviews")
    assert "positive → negative: a superb and touching film" in report and "agreed with users on 0" in report
    standin.send_text(USER, "/forget")
    assert "deleted the 1 review you rated" in standin.wait_text(USER, "deleted")
    assert feedback.items(connection) == []
    standin.send_text(USER, "/forget")
    standin.wait_text(USER, "nothing to delete")


def test_a_rating_tap_on_an_expired_or_odd_button_gets_a_sentence(ready, standin, connection):
    """The review is kept a day: after that 👎 says it could not store it; a button the bot never made
    is answered too. Nothing is stored either way."""
    from worker import feedback

    standin.send_text(USER + 1, "dull and boring")
    verdict = standin.wait_for(
        lambda s: [c for c in s.calls(USER + 1, "sendMessage") if c.params["text"].startswith("Negative")]
    )[-1]
    _why, _up, down = verdict.params["reply_markup"]["inline_keyboard"][0]
    connection.delete(f"sentibot:review:{down['callback_data'].split(':')[1]}")
    standin.press_button(USER + 1, verdict.message_id, down["callback_data"])
    assert "couldn't store your rating" in standin.wait_text(USER + 1, "no longer have that review")
    standin.press_button(USER + 1, verdict.message_id, "rate:nope:maybe")
    standin.wait_for(
        lambda s: [
            c for c in s.calls(method="answerCallbackQuery") if "doesn't work any more" in c.params.get("text", "")
        ]
    )
    assert feedback.items(connection) == []


def test_retrain_with_feedback_trains_on_it_and_reports_it_apart(empty, standin, connection):
    """`/retrain feedback=yes` adds the stored examples and says how the new model does on them."""
    from worker import feedback

    for i, (text, label) in enumerate([("brilliant and moving", "positive"), ("a dull mess", "negative")]):
        feedback.record(connection, f"user{900 + i}", text, label, label, "v0", per_day=10)
    standin.send_text(FEEDBACK_ADMIN, "/retrain epochs=2 batch_size=32 feedback=yes")
    assert "plus users' feedback" in standin.wait_text(FEEDBACK_ADMIN, "Training queued as")
    final = standin.wait_text(FEEDBACK_ADMIN, "Training finished", timeout=90)
    assert "Users' feedback: 2 examples trained on (each counts 3×)" in final
    assert "One-sentence reviews (dev split):" in final
    standin.send_text(FEEDBACK_ADMIN, "/retrain feedback=maybe")
    assert "feedback must be yes or no" in standin.wait_text(FEEDBACK_ADMIN, "feedback must")


def test_help_and_start_explain_the_bot(stack, standin):
    """/start and /help describe what the bot does and list the commands."""
    standin.send_text(102, "/start")
    assert "/retrain" in standin.wait_text(102, "movie review")
    standin.send_text(103, "/help")
    help_text = standin.wait_text(103, "Commands")
    assert "/model" in help_text and "/forget" in help_text
    assert "👍" in help_text and "stores the review" in help_text


def test_unknown_commands_non_text_and_wordless_messages_get_clear_replies(stack, standin):
    """Unknown command → hint to /help; photo or sticker → text only; punctuation → no words."""
    standin.send_text(104, "/frobnicate now")
    assert "/help" in standin.wait_text(104, "I don't know /frobnicate")
    standin.send_photo(105)
    standin.wait_text(105, "only score text")
    standin.send_sticker(106)
    standin.wait_text(106, "only score text")
    standin.send_text(107, "?!?! ... 😀")
    standin.wait_text(107, "no words")


def test_model_and_status(ready, standin, live_model):
    """/model shows the live version and accuracy; /status shows queues and live workers."""
    standin.send_text(108, "/model")
    assert "test accuracy" in standin.wait_text(108, live_model["version"])
    standin.send_text(109, "/status")
    assert "Workers alive: 1" in standin.wait_text(109, "Reviews waiting")


def test_non_admin_cannot_retrain_and_nothing_is_queued(stack, standin, connection):
    """A refusal, and the train queue stays empty."""
    standin.send_text(USER, "/retrain epochs=1")
    standin.wait_text(USER, "only the bot's admins can retrain")
    assert connection.llen("rq:queue:train") == 0 and not connection.exists("sentibot:train:lock")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("epochs=lots", "whole number"),
        ("epochs=0", "between 1 and 50"),
        ("arch=gpt", "Unknown architecture"),
        ("speed=9", "Unknown setting"),
        ("epochs", "key=value"),
        ("sentences=maybe", "yes or no"),
    ],
)
def test_bad_retrain_arguments_are_explained(stack, standin, connection, args, message):
    """Each malformed argument gets a specific message and nothing is queued."""
    before = len(standin.texts(ADMIN))
    standin.send_text(ADMIN, f"/retrain {args}")
    standin.wait_for(lambda s: any(message in t for t in s.texts(ADMIN)[before:]))
    assert connection.llen("rq:queue:train") == 0


def test_admin_retrain_reports_epochs_accuracy_and_chart(empty, standin, connection):
    """Job id at once, one progress message edited per epoch, then the table, accuracy and a PNG chart."""
    import matplotlib.image

    before = len(standin.calls(ADMIN))
    standin.send_text(ADMIN, "/retrain epochs=2 batch_size=32")
    standin.wait_text(ADMIN, "Training queued as train-")
    final = standin.wait_text(ADMIN, "Training finished: test accuracy", timeout=90)
    assert "The new model is live" in final and " 2  acc" in final  # first model: only the threshold applies
    calls = standin.calls(ADMIN)[before:]
    edits = [c for c in calls if c.method == "editMessageText"]
    assert edits and len({c.params["message_id"] for c in edits}) == 1  # one message, kept up to date
    last = edits[-1].params["text"]  # tiny epochs can finish between two polls: every epoch is still listed
    assert "epoch 2/2" in last and " 1  acc" in last and " 2  acc" in last
    photo = standin.wait_for(lambda s: s.calls(ADMIN, "sendPhoto")[-1:] if len(s.calls(ADMIN, "sendPhoto")) else None)
    image = matplotlib.image.imread(io.BytesIO(photo[0].files["photo"]), format="png")
    assert image.shape[1] > image.shape[0]


def test_second_retrain_is_refused_and_cancel_asks_first(ready, standin, connection):
    """While one runs: a second /retrain names who started it; /cancel asks Yes/No, Yes stops it."""
    standin.send_text(ADMIN, "/retrain epochs=50 batch_size=8")
    standin.wait_text(ADMIN, "Training queued as")
    wait_for(lambda: connection.exists("sentibot:train:lock"), 10)
    standin.send_text(ADMIN, "/retrain")
    assert "User42" in standin.wait_text(ADMIN, "already running")
    standin.send_text(ADMIN, "/cancel")
    question = standin.wait_for(
        lambda s: [c for c in s.calls(ADMIN, "sendMessage") if "Stop training" in c.params["text"]]
    )[-1]
    buttons = question.params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Yes, stop it", "No, keep going"]
    standin.press_button(ADMIN, question.message_id, buttons[0]["callback_data"])
    standin.wait_text(ADMIN, "Cancelling train-")
    standin.wait_text(ADMIN, "Training cancelled", timeout=60)


def test_cancel_without_training_and_by_non_admin(stack, standin):
    """Nothing to cancel is said; a non-admin is refused."""
    standin.send_text(ADMIN, "/cancel")
    standin.wait_text(ADMIN, "No training is running")
    standin.send_text(USER, "/cancel")
    standin.wait_text(USER, "only the bot's admins can cancel")


def test_group_messages_are_scored_only_when_addressed(ready, standin):
    """In a group, plain chatter is ignored; a mention is scored."""
    standin.send_text(110, "what a superb film", chat_id=-500)
    standin.send_text(110, "@sentibot_test_bot what a superb brilliant film", chat_id=-500)
    reply = standin.wait_text(-500, "Positive")
    standin.send_text(110, "/help", chat_id=-500)  # a later update: once it is answered, the chatter was handled
    help_text = standin.wait_text(-500, "/retrain")
    assert standin.texts(-500) == [reply, help_text]


def test_the_token_never_appears_in_the_logs(tmp_path, redis_server):
    """At DEBUG httpx logs every request URL, token included: the bot's log shows <token> instead."""
    standin = TelegramStandIn(token=TOKEN).start()  # its own, so the module's bot keeps its updates
    log_path = tmp_path / "bot.log"
    bot = start_bot(bot_env(tmp_path, redis_server.url, standin, LOG_LEVEL="DEBUG"), log_path)
    try:
        wait_for(lambda: "getUpdates" in log_path.read_text(), 30)  # it is polling, and logging each request
    finally:
        stop_process(bot)
        standin.stop()
    log = log_path.read_text()
    assert "/bot<token>/getUpdates" in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


@pytest.mark.timed
def test_redis_down_still_gets_a_sentence(tmp_path):
    """With Redis stopped mid-test the user is told so within 10 s, not left waiting."""
    server = RedisServer().start()
    standin = TelegramStandIn(token=TOKEN).start()  # its own, so the module's bot cannot answer
    bot = start_bot(bot_env(tmp_path, server.url, standin), tmp_path / "bot.log")
    try:
        standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=30)
        server.stop()
        standin.send_text(111, "is anyone scoring this superb film?")
        assert "not reachable" in standin.wait_text(111, "couldn't score", timeout=10)  # the wait is the bound
    finally:
        stop_process(bot)
        server.stop()
        standin.stop()


def test_missing_token_is_one_sentence(tmp_path):
    """`sentibot bot` without TELEGRAM_TOKEN names the variable and exits."""
    env = {**os.environ, "TELEGRAM_TOKEN": "", "SENTIBOT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "sentibot.cli", "bot"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "TELEGRAM_TOKEN" in done.stderr and "Traceback" not in done.stderr
