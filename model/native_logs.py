"""TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()", oneDNN's
notice) are written straight to file descriptor 2: TF_CPP_MIN_LOG_LEVEL and Python logging do not
reach them. Processes that load TensorFlow do it here, with fd 2 pointed at /dev/null meanwhile."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block (Python's own sys.stderr writes go there too meanwhile)."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_tensorflow() -> None:
    """Import TensorFlow and run one op (which prints the oneDNN notice) without their C++ start-up lines."""
    with native_stderr_silenced():
        import tensorflow as tf

        _ = tf.constant(1.0) + 1.0  # the first op initialises the CPU backend and prints its notice
