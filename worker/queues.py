"""The two queues and their contract: JSON only, jobs named by dotted path.

JSONSerializer everywhere means whoever can write to Redis cannot make a worker unpickle code,
and naming jobs by dotted path means the bot enqueues without importing TensorFlow.

Payloads (all JSON):
- ``worker.jobs.score_review(text, chat_id=None, user_id=None)`` → ``{"label": "positive"|"negative",
  "score": P(positive), "words": int, "known": int, "truncated": bool, "model": version, "ms": float,
  "batch": int}``; fails with ``ModelUnavailable: ...`` when no model is live.
- ``worker.jobs.train_model(arch, epochs, batch_size, requested_by=None, chat_id=None)`` → see
  :func:`worker.jobs.train_model`; progress in ``job.meta["progress"]``.
"""

from __future__ import annotations

import redis
from rq import Queue
from rq.serializers import JSONSerializer

SCORE = "score"  # fast jobs: one review each, batched by the worker
TRAIN = "train"  # one long job at a time
SCORE_JOB = "worker.jobs.score_review"
TRAIN_JOB = "worker.jobs.train_model"
SCORE_TIMEOUT_S = 30  # a score job that runs longer than this is killed
SCORE_RESULT_TTL_S = 300  # results are read within seconds; keep them five minutes
TRAIN_RESULT_TTL_S = 7 * 24 * 3600  # training results are history: keep a week
FAILURE_TTL_S = 7 * 24 * 3600


def get_queue(connection: redis.Redis, name: str) -> Queue:
    """The named queue with the project's serializer."""
    return Queue(name, connection=connection, serializer=JSONSerializer)
