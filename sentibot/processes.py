"""Waiting on a condition and stopping a child process: shared by `sentibot up`, the benches and the tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20, interval: float = 0.05) -> T:
    """Poll until ``predicate()`` is truthy and return its value; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        time.sleep(interval)


def wait_interruptibly(process: subprocess.Popen, poll_s: float = 0.5) -> int:
    """``process.wait()``, but back in Python every ``poll_s``: a blocking wait sleeps through a signal
    that another thread caught (or that landed just before it), so its handler, e.g. `up`'s SIGTERM,
    would not run until the process ended."""
    while True:
        try:
            return process.wait(timeout=poll_s)
        except subprocess.TimeoutExpired:
            continue


def stop(process: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM a process we started, give it ``grace_s`` to exit, then SIGKILL it."""
    stop_all([process], grace_s)


def stop_all(running: Iterable[subprocess.Popen], grace_s: float = 15) -> None:
    """SIGTERM every process at once, then wait for each (SIGKILL after ``grace_s``): a worker takes a
    second or two to exit, and side by side they take that once, not once each."""
    running = list(running)
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        wait_or_kill(process, grace_s)


def wait_or_kill(process: subprocess.Popen, grace_s: float) -> None:
    """Wait for a process already asked to stop; SIGKILL it after ``grace_s`` (never a second SIGTERM,
    which RQ takes as a cold shutdown)."""
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
