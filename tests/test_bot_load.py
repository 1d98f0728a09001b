"""The bot under load and fault, end to end: a real bot process, a real worker process, a real
redis-server, and the Bot API stand-in playing hundreds of users at once (and, when asked, Telegram's
flood limit: 429 past 30 sends a second)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.processes import bot_and_worker, bot_env, free_port, scrape, value, wait_for
from tests.telegram_standin import TelegramStandIn

pytestmark = [pytest.mark.slow, pytest.mark.timed]  # every test here starts processes

SCORE_TIMEOUT = 8  # the default: 200 replies at Telegram's 30 a second need 6.7 s of it
ADMINS = (42, 43)
USERS = 200
SENDS_PER_SECOND = 30  # Telegram's overall limit, which the bot paces to


@pytest.fixture(scope="module")
def stack(standin, redis_server, imdb_dir, tmp_path_factory):
    """A bot (SCORE_TIMEOUT 8 s, two admins, metrics on) and one worker on score and train."""
    home = tmp_path_factory.mktemp("load-home")
    metrics_port = free_port()
    env = bot_env(
        home,
        redis_server.url,
        standin,
        IMDB_DATA=str(imdb_dir),
        SCORE_TIMEOUT=str(SCORE_TIMEOUT),
        ADMIN_IDS=",".join(map(str, ADMINS)),
        LOG_LEVEL="WARNING",
    )
    with bot_and_worker(standin, env, home, "load-worker", METRICS_PORT=str(metrics_port)) as running:
        yield {**running, "metrics": metrics_port}


@pytest.fixture
def ready(stack, connection, live_model):
    wait_for(lambda: connection.exists("sentibot:alive:load-worker"), 60)
    return stack


def reply_seconds(standin: TelegramStandIn, updates: list[dict], needle: str) -> list[float | None]:
    """For each user message, seconds until the bot's first reply to that chat containing needle (None: none yet).

    One pass over what the bot sent, so polling it for 200 users stays cheap for the stand-in's thread.
    """
    first: dict[int, float] = {}
    for sent in standin.calls(method="sendMessage"):
        chat = int(sent.params["chat_id"])
        if chat not in first and needle in sent.params["text"]:
            first[chat] = sent.at
    return [
        first[u["message"]["chat"]["id"]] - standin.sent_at[u["update_id"]]
        if u["message"]["chat"]["id"] in first
        else None
        for u in updates
    ]


def all_answered(standin: TelegramStandIn, updates: list[dict], needle: str, timeout: float) -> list[float]:
    """Wait until every message got its reply; return the reply times (or say what the others got)."""
    try:
        wait_for(lambda: None not in reply_seconds(standin, updates, needle), timeout, interval=0.25)
    except TimeoutError:
        late = [u for u, t in zip(updates, reply_seconds(standin, updates, needle), strict=True) if t is None]
        got = {tuple(standin.texts(u["message"]["chat"]["id"])) for u in late}
        message = f"{len(late)} of {len(updates)} without {needle!r} after {timeout} s; they got {got}"
        raise AssertionError(message) from None
    return reply_seconds(standin, updates, needle)


def bot_metric(stack: dict, name: str) -> float:
    return value(scrape(stack["metrics"]), name)


def test_every_user_hears_back_while_workers_are_stalled_and_late_replies_are_counted(ready, standin):
    """All scoring workers SIGSTOPped, 200 users write at once: each gets "could not get a verdict", the
    200 replies paced to 30 a second after SCORE_TIMEOUT; those past their deadline are counted
    (sentibot_late_replies) and logged, none lost; /help and /status answer at once meanwhile; resumed,
    verdicts come back."""
    worker = ready["worker"]
    late_before = bot_metric(ready, "sentibot_late_replies_total")
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        sent = [standin.send_text(10_000 + i, f"a superb touching film, number {i}") for i in range(USERS)]
        help_update = standin.send_text(20_000, "/help")
        status_update = standin.send_text(20_001, "/status")
        # answered while the 200 reviews still wait out their SCORE_TIMEOUT (on 2 cores the backlog
        # of 200 updates before them is read and enqueued first)
        (help_s,) = all_answered(standin, [help_update], "/retrain", SCORE_TIMEOUT + 5)
        (status_s,) = all_answered(standin, [status_update], "Reviews waiting", SCORE_TIMEOUT + 5)
        assert help_s < SCORE_TIMEOUT and status_s < SCORE_TIMEOUT
        sending_s = USERS / SENDS_PER_SECOND
        times = all_answered(standin, sent, "Could not get a verdict", SCORE_TIMEOUT + sending_s + 10)
        slowest = max(times)
        # the bot's clock starts when it takes the update, up to a second or two after the stand-in's
        late = sum(t > SCORE_TIMEOUT + 2 for t in times)
        counted = bot_metric(ready, "sentibot_late_replies_total") - late_before
        print(
            f"stalled workers, {USERS} users: slowest reply {slowest:.2f} s (SCORE_TIMEOUT {SCORE_TIMEOUT} s, "
            f"{sending_s:.1f} s of sending); {late} late by the stand-in's clock, {counted:.0f} counted late"
        )
        assert slowest <= SCORE_TIMEOUT + sending_s + 2
        assert late > 0 and late <= counted <= USERS
        assert bot_metric(ready, "sentibot_unsent_replies_total") == 0
        log = (ready["home"] / "bot.log").read_text()
        assert "after its deadline" in log and "a superb touching film" not in log
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    standin.send_text(20_002, "a superb touching film")
    standin.wait_text(20_002, "Positive", timeout=30)


def test_a_burst_of_users_at_telegrams_flood_limit_all_get_verdicts_in_time(ready, standin):
    """200 users at once, the stand-in answering 429 past 30 sends a second as Telegram does: 200 verdicts,
    each within SCORE_TIMEOUT of its message, none late or lost by the bot's count."""
    late_before = bot_metric(ready, "sentibot_late_replies_total")
    refused_before = standin.flood_refused
    standin.flood_limit = SENDS_PER_SECOND
    try:
        sent = [standin.send_text(30_000 + i, f"an awful dull boring film, number {i}") for i in range(USERS)]
        times = all_answered(standin, sent, "Negative", SCORE_TIMEOUT + 10)
    finally:
        standin.flood_limit = 0
    slowest, refused = max(times), standin.flood_refused - refused_before
    verdicts = [c for c in standin.calls(method="sendMessage") if int(c.params["chat_id"]) >= 30_000]
    span = max(c.at for c in verdicts) - min(c.at for c in verdicts)
    print(
        f"burst of {USERS} users at {SENDS_PER_SECOND} sends/s: slowest verdict {slowest:.2f} s, "
        f"429s seen {refused:.0f}, verdicts sent over {span:.2f} s"
    )
    assert len({int(c.params["chat_id"]) for c in verdicts}) == USERS
    assert span >= (USERS - 1) / SENDS_PER_SECOND * 0.9  # paced, not sent at once
    assert slowest <= SCORE_TIMEOUT
    assert bot_metric(ready, "sentibot_late_replies_total") == late_before
    assert bot_metric(ready, "sentibot_unsent_replies_total") == 0


def test_a_reply_telegram_refuses_is_logged_and_counted(ready, standin):
    """Telegram refuses the verdict (403: the user blocked the bot): counted as unsent and logged, and no
    second reply is tried."""
    before = bot_metric(ready, "sentibot_unsent_replies_total")
    standin.refuse["sendMessage"] = 403
    try:
        standin.send_text(45_000, "a superb touching film")
        wait_for(lambda: bot_metric(ready, "sentibot_unsent_replies_total") > before, 15)
    finally:
        standin.refuse.clear()
    assert len(standin.calls(45_000, "refused:sendMessage")) == 1
    assert "the reply to a review in chat 45000 was not sent" in (ready["home"] / "bot.log").read_text()


def test_a_refused_typing_indicator_does_not_cost_the_reply(ready, standin):
    """A slow verdict shows "typing..."; Telegram answers that with 429: the user still gets the verdict."""
    worker = ready["worker"]
    standin.refuse["sendChatAction"] = 429
    os.kill(worker.pid, signal.SIGSTOP)  # slow enough for the typing indicator
    try:
        standin.send_text(40_000, "a superb touching film")
        standin.wait_for(lambda s: s.calls(40_000, "refused:sendChatAction"), timeout=SCORE_TIMEOUT)
        os.kill(worker.pid, signal.SIGCONT)
        assert standin.wait_text(40_000, "Positive").startswith("Positive")
    finally:
        os.kill(worker.pid, signal.SIGCONT)
        standin.refuse.clear()


def test_two_admins_retraining_at_the_same_instant_start_one_training(ready, standin, connection):
    """Two /retrain updates at once: exactly one training is queued, the other admin hears who holds it."""
    from worker import client
    from worker.queues import TRAIN, get_queue

    first, second = ADMINS
    long_run = "/retrain arch=tutorial epochs=50 batch_size=8"  # still running when the second one is handled
    standin.send_text(first, long_run)
    standin.send_text(second, long_run)
    try:
        # both answers: with replies paced (flood control) the refusal may go out before the other's "queued"
        standin.wait_for(
            lambda s: (
                any("already running" in t for t in s.texts(first) + s.texts(second))
                and any(t.startswith("Training queued") for t in s.texts(first) + s.texts(second))
            ),
            15,
        )
    except AssertionError:
        raise AssertionError(f"first: {standin.texts(first)[:3]}, second: {standin.texts(second)[:3]}") from None
    queued = [a for a in ADMINS if any(t.startswith("Training queued") for t in standin.texts(a))]
    refused = [a for a in ADMINS if any("already running" in t for t in standin.texts(a))]
    assert len(queued) == 1 and refused == [a for a in ADMINS if a not in queued]
    (busy,) = [t for t in standin.texts(refused[0]) if "already running" in t]
    assert f"User{queued[0]}" in busy
    queue = get_queue(connection, TRAIN)
    assert queue.count + len(queue.started_job_registry) == 1  # one training job in all
    client.cancel_training(connection)
    standin.wait_text(queued[0], "Training cancelled", timeout=120)
