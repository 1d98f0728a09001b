"""The first minute (issue 20): a fresh `sentibot up` answers from a fast model, then the default, the blend,
trains in the background and goes live by itself through the quality gate.

`up` runs its workers as child processes; tests/tiny_blend/sitecustomize.py (on their PYTHONPATH) makes the
blend's MiniLM tiny so it trains in seconds, and holds its training until the test lets it go.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from model import bundle
from tests.processes import end_up, sigterm_leaves_no_child, spawn_up, wait_for
from worker import health, training
from worker.registry import ModelRegistry

pytestmark = pytest.mark.slow  # trains models, starts `sentibot up`

TINY_BLEND = Path(__file__).parent / "tiny_blend"
VERDICT = r"(Positive|Negative|Mixed / not sure) \("


def test_which_model_the_first_start_trains_first():
    """A slow default (a pretrained transformer, a blend) starts behind the fast nbsvm; a quick one trains itself."""
    assert health.first_arch("blend") == "nbsvm" and health.first_arch("minilm") == "nbsvm"
    assert health.first_arch("tutorial") == "tutorial" and health.first_arch("nbsvm") == "nbsvm"


def test_the_first_start_trains_the_fast_model_then_the_default_once(connection, worker_settings, bundle_path):
    """No model: nbsvm. nbsvm live: the default, in the background, until one such training has ended."""
    settings = dataclasses.replace(worker_settings, default_arch="blend")
    first = health.first_training(connection, settings)
    assert training.running(connection)["arch"] == "nbsvm"
    assert training.running(connection)["requested_by"] == training.FIRST_START
    assert health.first_training(connection, settings) == first  # asked again (a second `up`): the same job
    training.request_cancel(connection, first)  # queued, never started: dropped, lock freed
    loaded = bundle.load(bundle_path)
    loaded.meta = {**loaded.meta, "arch": "nbsvm"}  # as if the fast model had gone live
    ModelRegistry(connection).add(bundle.to_bytes(loaded), promote=True)
    second = health.first_training(connection, settings)
    assert training.running(connection)["arch"] == "blend"
    assert training.running(connection)["requested_by"] == training.FIRST_START_DEFAULT
    training.request_cancel(connection, second)
    assert health.first_training(connection, settings) not in (None, second)  # interrupted: it starts again
    training.request_cancel(connection)
    health.mark_default_tried(connection)  # it ended (live, or refused by the gate): never again
    assert health.first_training(connection, settings) is None


def chat(child, line: str, timeout: float = 60) -> str:
    """Type a line into the terminal chat; return everything printed until the next prompt."""
    child.sendline(line)
    child.expect("review> ", timeout=timeout)
    return child.before


def test_a_fresh_up_answers_before_the_default_is_trained_and_the_default_goes_live_by_itself(tmp_path, imdb_tarball):
    """Empty home: the chat opens on nbsvm while the blend trains behind it (held here), /status and /model
    say a better model is training. SIGTERM then stops every child; the next `up` keeps nbsvm and trains
    the blend again, which goes live through the gate on its own."""
    home, hold = tmp_path / "home", tmp_path / "let-the-blend-train"
    paths = os.pathsep.join(filter(None, [str(TINY_BLEND), os.environ.get("PYTHONPATH", "")]))
    env = {"IMDB_DATA": str(imdb_tarball), "DEFAULT_ARCH": "blend", "PYTHONPATH": paths, "TINY_BLEND_HOLD": str(hold)}
    child = spawn_up(home, **env)
    try:
        child.expect("no model yet: training the nbsvm model from .* first; the default, blend, follows", timeout=60)
        child.expect(r"a better model \(blend\) is training in the background", timeout=180)
        child.expect("review> ", timeout=120)
        assert re.search(VERDICT, chat(child, "a superb touching film"))  # the blend is still held
        model = chat(child, "/model")
        assert "architecture: nbsvm" in model and "A better model is training: " in model, model
        assert "A better model is training: " in chat(child, "/status")
        sigterm_leaves_no_child(child)  # SIGTERM while the default trains in the background
    finally:
        end_up(child)

    again = spawn_up(home, **env)
    again.logfile_read = (tmp_path / "second-up.txt").open("w")  # what the chat showed, if this fails
    try:
        which = again.expect(["no model yet", r"a better model \(blend\) is training in the background"], timeout=120)
        assert which == 1, again.before  # nbsvm was kept; only the default starts again
        again.expect("review> ", timeout=120)
        hold.touch()

        def blend_is_live() -> bool:
            return "architecture: blend" in chat(again, "/model")

        wait_for(blend_is_live, 300, interval=2)
        info = chat(again, "/model")
        assert "parts:" in info and "• nbsvm" in info and "• minilm" in info, info
        assert re.search(VERDICT, chat(again, "an awful boring mess"))
        sigterm_leaves_no_child(again)
    finally:
        end_up(again)
