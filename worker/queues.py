"""The three queues and their contract: JSON only, jobs named by dotted path.

JSONSerializer everywhere means whoever can write to Redis cannot make a worker unpickle code,
and naming jobs by dotted path means the bot enqueues without importing TensorFlow.

Payloads (all JSON):
- ``worker.jobs.score_review(text)`` → ``{"label": "positive"|"negative",
  "score": P(positive), "words": int, "known": int, "truncated": bool, "model": version, "ms": float,
  "batch": int}``; fails with ``ModelUnavailable: ...`` when no model is live.
- ``worker.jobs.explain_review(text, top=5)`` (score queue, run one at a time) → ``{"label", "score",
  "model", "words": [{"word", "effect"}]}``: the words that moved the verdict most.
- ``worker.jobs.train_model(plan, requested_by=None)`` (train queue), ``plan`` a
  :class:`model.recipes.TrainingPlan` as one JSON object → see :func:`worker.jobs.train_model`;
  progress in ``job.meta``, the chart under its own key (worker/training.py).
- ``worker.jobs.score_file(file_id)`` (files queue) → ``{"file_id", "rows", "scored", "positive",
  "skipped": {reason: rows}, "model", "seconds", "rows_per_s"}``; the upload's bytes under
  ``sentibot:file:<id>``, read by the worker, the result CSV and histogram beside them
  (worker/files.py); progress in ``job.meta["file"]``: ``stage`` (reading, scoring, writing),
  ``done``, ``total``, ``rate`` (rows/s so far).

- ``worker.jobs.rank_feedback(top=5)`` (score queue) → ``{"model", "items": [{"text", "label", "score"}]}``:
  the stored 👍/👎 items the live model disagrees with most, for /feedback.

A sentibot worker runs these five names and nothing else, each only from its own queue
(:data:`JOB_QUEUES`, enforced by worker/dispatch.py). A failed job says why in
``job.meta[FAILURE_META]``; clients never parse tracebacks.
"""

from __future__ import annotations

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

MAX_TEXT_CHARS = 20_000  # the longest review any job scores or stores (Telegram itself caps a message at 4,096)
SCORE = "score"  # fast jobs: one review each, batched by the worker
FILES = "files"  # whole uploaded files: minutes each, so never on the score queue's workers
TRAIN = "train"  # one long job at a time
QUEUES = (SCORE, FILES, TRAIN)
SCORE_JOB = "worker.jobs.score_review"
TRAIN_JOB = "worker.jobs.train_model"
EXPLAIN_JOB = "worker.jobs.explain_review"
FILE_JOB = "worker.jobs.score_file"
RANK_FEEDBACK_JOB = "worker.jobs.rank_feedback"
JOB_QUEUES = {  # the only jobs, and the queue each runs from
    SCORE_JOB: SCORE,
    EXPLAIN_JOB: SCORE,
    RANK_FEEDBACK_JOB: SCORE,
    FILE_JOB: FILES,
    TRAIN_JOB: TRAIN,
}
FILE_TIMEOUT_S = 1800  # a file job (100,000 rows at most) that runs longer than this is stopped
SCORE_TIMEOUT_S = 30  # a score job that runs longer than this is killed
SCORE_RESULT_TTL_S = 300  # results are read within seconds; keep them five minutes
REVIEW_TTL_S = 24 * 3600  # a scored review is kept this long for its "Why?" button
TRAIN_RESULT_TTL_S = 7 * 24 * 3600  # training results are history: keep a week
FAILURE_TTL_S = 7 * 24 * 3600
FAILURE_META = "failure"  # job.meta: {"kind", "message"} written by the worker when a job fails
DIED_META = "died"  # job.meta: written by the reaper when a job's worker died under it


def get_queue(connection: redis.Redis, name: str, job_class: type[Job] | None = None) -> Queue:
    """The named queue with the project's serializer; a worker passes its SentibotJob as ``job_class``, so
    even RQ's registry clean-ups read jobs through it (and never resolve a job's callbacks)."""
    return Queue(name, connection=connection, serializer=JSONSerializer, job_class=job_class)
