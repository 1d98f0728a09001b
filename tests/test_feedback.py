"""What users teach the model: the Redis store behind 👍/👎, /forget and `sentibot feedback`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from worker import feedback, identity
from worker.errors import BadFeedbackFile, FeedbackLimit

KEY = b"a test deployment's key"


def hashed(user_id: int) -> str:
    """The user's keyed hash, as the bot stores it."""
    return identity.user_hash(KEY, user_id)


def test_a_tap_stores_the_right_label_the_verdict_and_a_salted_hash_not_the_user_id(connection):
    assert feedback.record(connection, hashed(1234567), "Not bad at all.", "positive", "negative", "v1", per_day=10)
    (item,) = feedback.items(connection)
    assert (item.text, item.label, item.given, item.model) == ("Not bad at all.", "positive", "negative", "v1")
    assert not item.agreed and item.at > 0
    assert "1234567" not in item.user and len(item.user) == 32
    assert item.user == hashed(1234567)  # stable, so /forget finds it
    raw = b"".join(connection.hvals(feedback.ITEMS))
    assert b"1234567" not in raw


def test_the_same_user_and_text_is_one_item_and_tapping_again_replaces_it(connection):
    assert feedback.record(connection, hashed(1), "Great film!", "positive", "positive", "v1", per_day=10)
    assert not feedback.record(connection, hashed(1), "great   FILM!", "negative", "positive", "v1", per_day=10)
    (item,) = feedback.items(connection)
    assert item.label == "negative"
    assert feedback.record(
        connection, hashed(2), "Great film!", "positive", "positive", "v1", per_day=10
    )  # another user
    assert len(feedback.items(connection)) == 2


def test_each_user_is_capped_per_day_and_the_cap_names_itself(connection):
    for i in range(3):
        feedback.record(connection, hashed(5), f"review {i}", "positive", "positive", "v1", per_day=3)
    with pytest.raises(FeedbackLimit, match="3 reviews from you today"):
        feedback.record(connection, hashed(5), "one more", "positive", "positive", "v1", per_day=3)
    assert len(feedback.items(connection)) == 3
    feedback.record(connection, hashed(6), "someone else", "positive", "positive", "v1", per_day=3)  # others unaffected


def test_forget_deletes_everything_one_user_gave_and_nothing_else(connection):
    for text in ("a", "b", "c"):
        feedback.record(connection, hashed(7), f"review {text}", "negative", "positive", "v1", per_day=10)
    feedback.record(connection, hashed(8), "review a", "positive", "positive", "v1", per_day=10)
    assert feedback.forget(connection, [hashed(7)]) == 3
    assert [item.text for item in feedback.items(connection)] == ["review a"]
    assert all(item.user != hashed(7) for item in feedback.recent_corrections(connection))
    assert feedback.forget(connection, [hashed(7)]) == 0


def test_summary_counts_agreement_and_lists_the_latest_corrections_first(connection):
    feedback.record(connection, hashed(1), "loved it", "positive", "positive", "v1", per_day=10)
    feedback.record(connection, hashed(1), "not bad at all", "positive", "negative", "v1", per_day=10)
    feedback.record(connection, hashed(2), "I wouldn't call it good", "negative", "positive", "v1", per_day=10)
    found = feedback.summary(connection)
    assert (found.total, found.agreed, found.users) == (3, 1, 2)
    assert found.agreement == pytest.approx(1 / 3)
    assert [item.text for item in found.corrections] == ["I wouldn't call it good", "not bad at all"]
    assert feedback.examples(connection) == (["loved it", "not bad at all", "I wouldn't call it good"], [1, 1, 0])


def test_export_then_import_into_another_redis_round_trips(connection):
    feedback.record(connection, hashed(1), "loved it, really", "positive", "positive", "v1", per_day=10)
    feedback.record(connection, hashed(2), 'a "quoted", comma review', "negative", "positive", "v2", per_day=10)
    exported = feedback.to_csv(feedback.items(connection))
    connection.flushdb()
    assert feedback.import_items(connection, feedback.from_csv(exported)) == 2
    assert feedback.import_items(connection, feedback.from_csv(exported)) == 0  # duplicates skipped
    assert {item.text for item in feedback.items(connection)} == {"loved it, really", 'a "quoted", comma review'}


def test_the_export_quotes_formula_cells_and_the_import_takes_the_quote_off():
    """A review like "=HYPERLINK(...)" is no live formula in the admin's spreadsheet, and comes back as it was
    (a text that really starts with a quote too)."""
    texts = ['=HYPERLINK("http://x")', "+1 great", "-meh", "@admin loved it", "'=already quoted", "fine film"]
    items = [feedback.Item(t, "positive", "negative", "=v1", 1.0, "u") for t in texts]
    exported = feedback.to_csv(items)
    cells = [row.split(",")[0] for row in exported.splitlines()[1:]]
    assert all(not cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in cells), cells
    back = feedback.from_csv(exported)
    assert [item.text for item in back] == texts and {item.model for item in back} == {"=v1"}


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("review,stars\nok,5\n", "columns text and label"),
        ("text,label\nfine,maybe\n", "Row 2"),
        ("text,label\n,positive\n", "Row 2"),
    ],
)
def test_a_bad_import_file_names_what_is_wrong(csv_text, message):
    with pytest.raises(BadFeedbackFile, match=message):
        feedback.from_csv(csv_text)


def sentibot(redis_url: str, *args: str) -> subprocess.CompletedProcess:
    """The real `sentibot` command against ``redis_url``."""
    env = {"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "sentibot.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_cli_exports_and_imports(connection, redis_server, tmp_path):
    feedback.record(connection, hashed(1), "a lovely film", "positive", "positive", "v1", per_day=10)
    out = tmp_path / "feedback.csv"
    done = sentibot(redis_server.url, "feedback", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"exported": 1, "out": str(out)}
    assert "a lovely film" in out.read_text()
    connection.flushdb()
    done = sentibot(redis_server.url, "feedback", "import", str(out))
    assert json.loads(done.stdout) == {"read": 1, "added": 1, "already_there": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,meh\n")
    done = sentibot(redis_server.url, "feedback", "import", str(bad))
    assert done.returncode == 1 and "Row 2" in done.stderr and "Traceback" not in done.stderr


def test_one_user_never_dominates_the_feedback_a_training_uses(connection):
    """Ten users with 10 items each and one with 300: all 100 honest items are used, and the flooder's
    newest up to the cap (20% of what is used, or 50): not 300 of 400."""
    from worker.feedback_use import MAX_USER_SHARE, MIN_PER_USER

    for user in range(10):
        for i in range(10):
            feedback.record(connection, hashed(user), f"honest review {user}.{i}", "positive", "positive", "v1", 10)
    for i in range(300):
        feedback.record(connection, hashed(99), f"flood {i}", "negative", "positive", "v1", per_day=1000)
    texts, labels = feedback.examples(connection)
    flood = [t for t in texts if t.startswith("flood")]
    assert sum(t.startswith("honest") for t in texts) == 100
    assert len(flood) <= max(MIN_PER_USER, MAX_USER_SHARE * len(texts)) and len(flood) >= MIN_PER_USER
    assert "flood 299" in flood and "flood 0" not in flood  # the newest are kept
    assert len(labels) == len(texts)
