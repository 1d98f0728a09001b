"""A signal stops `up` wherever the kernel hands it.

`up` turns SIGTERM into KeyboardInterrupt, but a Python handler runs only in the main thread, once that
thread is back in Python. When the signal goes to another thread, or lands just before a blocking read,
a main thread asleep in `input()` or `Popen.wait()` never sees it (CI once saw `up` ignore SIGTERM at the
chat prompt for 90 s). Each script here blocks SIGTERM in the main thread and leaves it open in another
one, so the kernel delivers it to the other thread every time: the race, made certain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]

CAUGHT_ELSEWHERE = """
import signal, sys, threading

def interrupt(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, interrupt)  # as `up` does
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the main thread never receives it itself
ready = threading.Event()

def other_thread():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # the kernel's only choice
    ready.set()
    threading.Event().wait()

threading.Thread(target=other_thread, daemon=True).start()
ready.wait()
"""


def spawn_script(body: str) -> pexpect.spawn:
    """A Python script in a pseudo-terminal (stdin is a tty, as in `up`'s chat), run from the repository."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    return pexpect.spawn(sys.executable, ["-c", CAUGHT_ELSEWHERE + body], env=env, encoding="utf-8", timeout=30)


def spawn_chat() -> pexpect.spawn:
    """The terminal chat (no Redis: it is not needed until a review is typed) in that script; it prints
    "chat ended" when its loop returns."""
    return spawn_script(
        "from bot.terminal import run\n"
        "from common.settings import Settings\n"
        "run(Settings.from_env(), None)\n"
        "print('chat ended')\n"
    )


def test_the_chat_prompt_ends_on_a_sigterm_caught_by_another_thread():
    child = spawn_chat()
    try:
        child.expect("review> ")
        child.kill(signal.SIGTERM)
        child.expect("chat ended", timeout=5)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_the_chat_still_reads_lines_and_ends_at_end_of_input():
    """The same reader, typed into: each line answered in turn, Ctrl-D ends the chat."""
    child = spawn_chat()
    try:
        child.expect("review> ")
        child.sendline("/dance")  # answered without Redis: an unknown command
        child.expect("I don.t know /dance")
        child.expect("review> ")
        child.sendeof()
        child.expect("chat ended", timeout=10)
    finally:
        child.close(force=True)


def test_the_race_is_real_input_sleeps_through_such_a_sigterm():
    """The control: plain `input()` in the same script is still waiting after 3 s."""
    child = spawn_script("input('review> ')\nprint('input ended')\n")
    try:
        child.expect("review> ")
        child.kill(signal.SIGTERM)
        assert child.expect(["input ended", pexpect.TIMEOUT], timeout=3) == 1
    finally:
        child.close(force=True)


def test_up_waiting_on_the_bot_ends_on_a_sigterm_caught_by_another_thread():
    script = CAUGHT_ELSEWHERE + (
        "import subprocess\n"
        "from sentibot.processes import wait_interruptibly\n"
        "bot = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('waiting', flush=True)\n"
        "try:\n"
        "    wait_interruptibly(bot)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "bot.kill()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "waiting\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == "interrupted\n"
    finally:
        process.kill()
