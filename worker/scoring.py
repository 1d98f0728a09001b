"""The sentibot worker class: RQ's SimpleWorker plus micro-batching of waiting score jobs.

RQ spends ~3 ms of bookkeeping per job, which caps one-review-per-job at ~350 jobs/s per worker.
After running a score job the usual way, this worker claims up to MAX_BATCH more waiting score
jobs in one round trip, scores them in one model call, and records all their results in one
pipeline. Claimed ids sit in a per-worker ``inflight`` list until then, so if the worker dies
the reaper puts them back on the queue.

SimpleWorker (no fork per job) is deliberate: the loaded model stays in memory between jobs and
TensorFlow is never forked. RQ's docs note the trade-off: no separate work horse, so a job that
hangs blocks the worker until its timeout; fine for millisecond scoring, and training runs in a
worker process of its own.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import now

from sentibot.errors import SentibotError
from sentibot.settings import Settings
from worker import jobs
from worker.dispatch import SentibotJob
from worker.model_cache import ModelCache
from worker.queues import SCORE, SCORE_JOB
from worker.reaper import INFLIGHT

log = logging.getLogger(__name__)

MAX_BATCH = 256  # reviews scored together at most; one model call on 256x500 ids takes a few ms


def _text_of(job: Job) -> str | None:
    text = job.kwargs.get("text", job.args[0] if job.args else None)
    return text if isinstance(text, str) else None


class SentibotWorker(SimpleWorker):
    """In-process worker that runs only sentibot's jobs and batches the score jobs it finds waiting."""

    max_connection_wait_time = 5.0  # retry Redis every few seconds at most while it is down

    def __init__(self, queues: list[Queue], *, settings: Settings, models: ModelCache, **kwargs) -> None:
        super().__init__(queues, job_class=SentibotJob, serializer=JSONSerializer, **kwargs)
        self.settings = settings
        self.models = models

    def execute_job(self, job: Job, queue: Queue) -> None:
        if isinstance(job, SentibotJob):
            job.context = jobs.JobContext(self.settings, self.models, job)
        super().execute_job(job, queue)
        if queue.name == SCORE:
            while self._score_waiting(queue):
                pass

    def _claim(self, queue: Queue) -> list[str]:
        inflight = INFLIGHT.format(name=self.name)
        with self.connection.pipeline() as pipe:
            for _ in range(MAX_BATCH):
                pipe.lmove(queue.key, inflight, "LEFT", "RIGHT")
            return [raw.decode() for raw in pipe.execute() if raw]

    def _score_waiting(self, queue: Queue) -> int:
        """Score one batch of waiting jobs; return how many were completed."""
        ids = self._claim(queue)
        if not ids:
            return 0
        fetched = Job.fetch_many(ids, connection=self.connection, serializer=JSONSerializer)
        batch = [j for j in fetched if j is not None and j.func_name == SCORE_JOB and _text_of(j) is not None]
        batched_ids = {j.id for j in batch}
        others = [i for i, j in zip(ids, fetched, strict=True) if j is not None and j.id not in batched_ids]
        try:
            results = jobs.score_texts(self.models, self.connection, [_text_of(j) for j in batch]) if batch else []
        except SentibotError as exc:  # e.g. no model: each job fails on its own with this reason
            log.info("batch not scored (%s); jobs go back to the queue one by one", exc)
            self._give_back(queue, [j.id for j in batch] + others)
            return 0
        self._complete(batch, results)
        self._give_back(queue, others)
        return len(batch)

    def _complete(self, batch: list[Job], results: list[dict]) -> None:
        """Record every result in one pipeline, as RQ would for each job."""
        finished = now()
        with self.connection.pipeline() as pipe:
            for job, result in zip(batch, results, strict=True):
                ttl = job.get_result_ttl(self.default_result_ttl)
                job.started_at = job.ended_at = finished
                job.worker_name = self.name
                job._result = result
                job._handle_success(ttl, pipeline=pipe, worker_name=self.name)
                job.cleanup(ttl, pipeline=pipe, remove_from_queue=False)
            pipe.delete(INFLIGHT.format(name=self.name))
            pipe.execute()

    def _give_back(self, queue: Queue, ids: list[str]) -> None:
        with self.connection.pipeline() as pipe:
            if ids:
                pipe.lpush(queue.key, *reversed(ids))
            pipe.delete(INFLIGHT.format(name=self.name))
            pipe.execute()
