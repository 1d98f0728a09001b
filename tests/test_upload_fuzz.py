"""Hostile uploads through the whole path: the real bot, a scoring and a file worker, Redis, the stand-in.

Random bytes, fields past csv's limit, odd quoting, NULs, BOMs, other encodings and the crafted file
that froze every chat for a minute (issue 21.1): every upload gets an answer (its results or one
sentence), no handler or job leaves a traceback, and another user's review sent meanwhile gets its
verdict in under 2 s. CI runs a few dozen examples; `bench/upload_fuzz.py` runs 1,000.
"""

from __future__ import annotations

import pytest

from tests.live_stack import LiveStack, send_upload_fuzz

pytestmark = [pytest.mark.slow, pytest.mark.timed]  # starts redis, two workers and the bot

EXAMPLES = 40


@pytest.fixture(scope="module")
def live(bundle_path, tmp_path_factory):
    stack = LiveStack(home=tmp_path_factory.mktemp("upload-fuzz"), bundle=bundle_path.read_bytes(), file_workers=1)
    yield stack.start()
    stack.stop()


def test_every_hostile_upload_is_answered_and_nobody_waits(live):
    """Each upload from its own user: an answer each; other users' verdicts meanwhile under 2 s."""
    answers, probes = send_upload_fuzz(live, EXAMPLES, first_user=300_000)
    assert len(answers) >= EXAMPLES and all(answers.values())
    assert not [a for a in answers.values() if "went wrong" in a], answers  # the generic error sentence
    assert probes and max(probes) < 2.0, probes
    assert "Traceback" not in (live.home / "bot.log").read_text()
    assert set(failures(live.home)) <= {"worker.files.BadFile"}  # RQ logs each failed job: only "bad file"


def failures(home) -> list[str]:
    """The exception type at the end of every traceback the workers logged."""
    found = []
    for path in home.glob("*.log"):
        for block in path.read_text().split("Traceback (most recent call last):")[1:]:
            final = next(line for line in block.splitlines()[1:] if line and not line.startswith(" "))
            found.append(final.split(":")[0])
    return found
