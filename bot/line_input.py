"""Typed lines for the terminal chat that a signal always interrupts.

`input()` waits in a blocking read of stdin, and a Python signal handler runs only when the main thread
comes back from it. A SIGTERM the kernel hands to another thread, or one that lands between the prompt
and the read, is caught but waits for the next Enter: `sentibot up` then ignored SIGTERM until someone
typed (seen once in CI). Here the wait is a ``select`` on stdin *and* on the signal wake-up pipe that
CPython writes a byte to whenever it catches a signal, so the handler (KeyboardInterrupt for SIGINT and,
in `up`, for SIGTERM) runs as soon as the signal is caught, wherever it was caught.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from types import TracebackType

CHUNK = 65536


class LineInput:
    """Lines from stdin; a context manager that installs the wake-up pipe (the chat runs in the main
    thread, the only one that may) and puts back whatever was there before."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        self.encoding = sys.stdin.encoding or "utf-8"
        self._pending = b""  # read but not yet returned: a pipe may deliver several lines at once
        self._wakeup_read, self._wakeup_write = -1, -1
        self._previous_wakeup = -1

    def __enter__(self) -> LineInput:
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        self._previous_wakeup = signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        signal.set_wakeup_fd(self._previous_wakeup)
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)

    def __call__(self, prompt: str = "") -> str:
        """Like ``input(prompt)``: the next line without its newline; EOFError at the end of input."""
        sys.stdout.write(prompt)
        sys.stdout.flush()
        while b"\n" not in self._pending:
            self._wait_for_input()
            chunk = os.read(self.fd, CHUNK)
            if not chunk:  # end of input (Ctrl-D on an empty line)
                if not self._pending:
                    raise EOFError
                break
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(self.encoding, errors="replace").removesuffix("\r")

    def _wait_for_input(self) -> None:
        """Block until stdin has something to read. A caught signal wakes the ``select`` through the
        wake-up pipe; coming back to Python then runs its handler, which may raise."""
        while True:
            ready, _, _ = select.select([self.fd, self._wakeup_read], [], [])
            if self._wakeup_read in ready:
                with contextlib.suppress(BlockingIOError):  # the signal numbers: the handlers have them already
                    os.read(self._wakeup_read, CHUNK)
            if self.fd in ready:
                return
