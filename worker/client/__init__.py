"""What a front end (the bot, the terminal chat, `sentibot score`, `sentibot up`) asks of the queue side.

Nothing here imports TensorFlow. Every Redis failure becomes :class:`~worker.errors.QueueUnavailable`,
every failed job :class:`~worker.errors.JobFailed` with the sentence the worker recorded, and a wait
that runs out :class:`~worker.errors.ScoringTimeout`. One module per kind of work:

- :mod:`.results`: waiting on a job's result stream, and the one table of RQ statuses
- :mod:`.reviews`: scoring and explaining one review, keeping it for its buttons
- :mod:`.files`: a whole uploaded file
- :mod:`.training`: starting, cancelling and following a training
- :mod:`.service`: the live model and the queues' figures
"""

from worker.client.files import (
    FileSnapshot,
    abandon_file,
    file_results,
    file_snapshot,
    file_workers,
    free_file_slot,
    submit_file,
)
from worker.client.results import failure_reason, job_failed, wait_result, wait_result_async
from worker.client.reviews import (
    connect_async,
    explain,
    keep_review_async,
    kept_review,
    kept_verdict,
    score,
    submit_explain,
    submit_rank_feedback,
    submit_review,
)
from worker.client.service import better_model_training, live_model, service_status
from worker.client.training import (
    TrainingSnapshot,
    TrainingWatch,
    cancel_training,
    follow_training,
    running_training,
    start_training,
    training_snapshot,
)

__all__ = [
    "FileSnapshot",
    "TrainingSnapshot",
    "TrainingWatch",
    "abandon_file",
    "better_model_training",
    "cancel_training",
    "connect_async",
    "explain",
    "failure_reason",
    "file_results",
    "file_snapshot",
    "file_workers",
    "follow_training",
    "free_file_slot",
    "job_failed",
    "keep_review_async",
    "kept_review",
    "kept_verdict",
    "live_model",
    "running_training",
    "score",
    "service_status",
    "start_training",
    "submit_explain",
    "submit_file",
    "submit_rank_feedback",
    "submit_review",
    "training_snapshot",
    "wait_result",
    "wait_result_async",
]
