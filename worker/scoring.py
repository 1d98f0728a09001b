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
import threading

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer

from common.errors import SentibotError
from common.settings import Settings
from worker import jobs, metrics, poison
from worker.dispatch import SentibotJob
from worker.model_cache import ModelCache
from worker.queues import SCORE, SCORE_JOB
from worker.reaper import INFLIGHT
from worker.rq_internals import record_success

log = logging.getLogger(__name__)

WORKER_TTL_S = 60  # RQ's worker key lifetime; it blocks on the queue 15 s less than this
MAX_BATCH = 256  # reviews scored together at most; one model call on 256x500 ids takes a few ms

# Up to ARGV[1] waiting ids move from the queue's front to the worker's in-flight list in one atomic
# step, in order. One command rather than a pipeline of 256 LMOVEs, whose packing py-spy showed in the
# worker after every chat review (though an A/B of bench/queue_throughput.py saw no latency change).
_CLAIM = """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids > 0 then
  redis.call('LTRIM', KEYS[1], #ids, -1)
  redis.call('RPUSH', KEYS[2], unpack(ids))
end
return ids
"""


def _text_of(job: Job) -> str | None:
    text = job.kwargs.get("text", job.args[0] if job.args else None)
    return text if isinstance(text, str) else None


class SentibotWorker(SimpleWorker):
    """In-process worker that runs only sentibot's jobs and batches the score jobs it finds waiting.

    ``stopping`` is set on SIGTERM: a score worker stops claiming new batches, a training in this
    worker stops at its next batch, and `worker.run` exits instead of reconnecting.
    """

    max_connection_wait_time = 5.0  # retry Redis every few seconds at most while it is down

    def __init__(
        self,
        queues: list[Queue],
        *,
        settings: Settings,
        models: ModelCache,
        stopping: threading.Event | None = None,
        **kwargs,
    ) -> None:
        # RQ blocks on the queue for worker_ttl - 15 s; past the client's socket timeout (65 s) that read fails
        # and the work loop ends (then starts again under a fresh name): 60 keeps it at 45 s, inside.
        kwargs.setdefault("worker_ttl", WORKER_TTL_S)
        super().__init__(queues, job_class=SentibotJob, serializer=JSONSerializer, **kwargs)
        self.settings = settings
        self.models = models
        self.stopping = stopping or threading.Event()
        self._in_batch_loop = False
        self._stranded = False  # a claimed batch could not be given back (Redis failed): retry before claiming
        self._claim_script = self.connection.register_script(_CLAIM)  # hashed once; sent by its SHA after the first

    def request_stop(self, signum, frame) -> None:
        """SIGTERM: say so to everything that watches ``stopping``, then RQ's warm shutdown.

        Between RQ jobs, inside this worker's own batch loop, RQ would raise StopRequested wherever
        the batch happens to be (RQ thinks the worker idle); instead the batch in hand is finished and
        execute_job stops the worker right after it.
        """
        self.stopping.set()
        if self._in_batch_loop:
            return
        try:
            super().request_stop(signum, frame)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise StopRequested() from None  # Redis is down: nothing to finish, nothing to record

    def _install_signal_handlers(self) -> None:
        """RQ's private hook (worker/rq_internals.py): a SIGTERM that came before RQ's handlers were in
        place (the heartbeat already made the worker look ready) still stops the work loop at once."""
        super()._install_signal_handlers()
        if self.stopping.is_set():
            self._stop_requested = True  # RQ's own flag, read at the top of its work loop

    def execute_job(self, job: Job, queue: Queue) -> None:
        if isinstance(job, SentibotJob):
            job.context = jobs.JobContext(self.settings, self.models, job, self.stopping)
        super().execute_job(job, queue)
        if queue.name == SCORE:
            self._in_batch_loop = True
            try:
                while not self.stopping.is_set() and self._score_waiting(queue):
                    pass
            finally:
                self._in_batch_loop = False
        if self.stopping.is_set():
            raise StopRequested()  # RQ's work loop ends on it, after this job, as a warm shutdown does

    @property
    def _inflight(self) -> str:
        return INFLIGHT.format(name=self.name)

    def _claim(self, queue: Queue) -> list[str]:
        return [raw.decode() for raw in self._claim_script(keys=[queue.key, self._inflight], args=[MAX_BATCH])]

    def _score_waiting(self, queue: Queue) -> int:
        """Score one batch of waiting jobs; return how many were completed.

        Whatever goes wrong (no model, a model that raises, Redis failing mid-batch), the claimed
        jobs go back to the front of the queue, where the worker runs them one by one: each then
        gets its verdict or fails with its own reason. Nothing is left in the in-flight list.
        """
        try:
            if self._stranded:  # a batch whose give-back failed earlier: back to the queue first
                self._give_back(queue, [raw.decode() for raw in self.connection.lrange(self._inflight, 0, -1)])
                self._stranded = False
            ids = self._claim(queue)
        except redis.exceptions.RedisError as exc:
            log.warning("no batch claimed: %s", exc)
            self._stranded = True  # part of a claim may have happened: look at the in-flight list next time
            return 0
        if not ids:
            return 0
        try:
            return self._score_batch(queue, ids)
        except SentibotError as exc:  # e.g. no model: each job fails on its own with this reason
            log.info("batch not scored (%s); its jobs go back to the queue one by one", exc)
        except Exception:
            log.exception("batch of %d reviews failed; its jobs go back to the queue one by one", len(ids))
        try:
            self._give_back(queue, ids)
        except redis.exceptions.RedisError as exc:  # kept in the in-flight list: given back on the next try
            log.warning("batch not given back yet: %s", exc)
            self._stranded = True
        return 0

    def _score_batch(self, queue: Queue, ids: list[str]) -> int:
        fetched = SentibotJob.fetch_many(ids, connection=self.connection, serializer=JSONSerializer)
        crashed = poison.crashed_before(self.connection, ids)  # run alone: a poison review takes no batch down
        batch = [
            j
            for j in fetched
            if j is not None
            and j.func_name == SCORE_JOB
            and j.id not in crashed
            and j.refusal() is None
            and _text_of(j) is not None
        ]  # the others go back to the queue and run one by one: a job that is not ours is refused there
        batched = {j.id for j in batch}
        others = [i for i, j in zip(ids, fetched, strict=True) if j is not None and j.id not in batched]
        results = jobs.score_texts(self.models, self.connection, [_text_of(j) for j in batch]) if batch else []
        if batch:
            metrics.observe_scored(results, [j.enqueued_at for j in batch])
        with self.connection.pipeline() as pipe:  # one transaction: results, the others back, in-flight cleared
            for job, result in zip(batch, results, strict=True):
                record_success(job, result, self.name, job.get_result_ttl(self.default_result_ttl), pipe)
            if others:
                pipe.lpush(queue.key, *reversed(others))
            pipe.delete(self._inflight)
            pipe.execute()
        return len(batch)

    def _give_back(self, queue: Queue, ids: list[str]) -> None:
        """Put claimed ids back at the front of the queue, in their order, and clear the in-flight list."""
        if not ids:
            return
        with self.connection.pipeline() as pipe:
            pipe.lpush(queue.key, *reversed(ids))
            pipe.delete(self._inflight)
            pipe.execute()
