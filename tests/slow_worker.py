"""`sentibot worker`, with a model that takes SLOW_SCORING_S_PER_ROW seconds per row of every batch.

For the tests of a file that takes minutes (issue 23): the real worker, queue and Keras model, with a
sleep added before each batch is scored, as a big file under a slow model behaves. Tests only.

Usage: python -m tests.slow_worker worker --queues files --name NAME
"""

from __future__ import annotations

import os
import sys
import time

from model import predict

DELAY_S = float(os.environ.get("SLOW_SCORING_S_PER_ROW", "0"))
_scores = predict.Predictor.scores


def slow_scores(self: predict.Predictor, x, compiled: bool = True):
    """The model's scores, after sleeping DELAY_S per row."""
    time.sleep(DELAY_S * len(x))
    return _scores(self, x, compiled)


predict.Predictor.scores = slow_scores

if __name__ == "__main__":
    from sentibot.cli import main

    sys.exit(main(sys.argv[1:]))
