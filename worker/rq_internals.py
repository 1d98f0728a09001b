"""Every use sentibot makes of RQ's private API, in one place, one comment per use.

Micro-batching records results for jobs RQ did not run itself, the reaper hands a dead worker's
jobs to RQ's abandoned-job handling at once instead of after their timeout, and SentibotWorker
overrides ``_install_signal_handlers`` and sets ``_stop_requested`` (worker/scoring.py) so that a
SIGTERM that came before RQ's handlers still stops it. Both need
names RQ does not promise to keep, so `rq` is pinned to the minor range the tests ran
(pyproject.toml) and :func:`check` (run by the tests) fails with a clear sentence if they change.
"""

from __future__ import annotations

import inspect

import redis
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.utils import now


def record_success(job: Job, result: dict, worker_name: str, ttl: int | None, pipe: redis.client.Pipeline) -> None:
    """Store a result for a job claimed by a batch, exactly as RQ's worker does after running it."""
    finished = now()
    job.started_at = job.ended_at = finished
    job.worker_name = worker_name
    job._result = result  # private: what Job._handle_success serialises as the return value
    job._handle_success(ttl, pipeline=pipe, worker_name=worker_name)  # private: status, Result stream, registry
    job.cleanup(ttl, pipeline=pipe, remove_from_queue=False)  # public, but the batch removed it from the queue


def started_entries(registry: StartedJobRegistry) -> list[tuple[str, str]]:
    """(job id, execution id) of every job RQ counts as running on this queue."""
    return registry.get_job_and_execution_ids(cleanup=False)  # public since RQ 2.0; the pairs are its format


def expire_now(connection: redis.Redis, registry: StartedJobRegistry, entries: list[tuple[str, str]]) -> None:
    """Make RQ treat these executions as abandoned now: retried if retries are left, else failed."""
    members = {f"{job_id}:{execution_id}": 0 for job_id, execution_id in entries}  # private: member format
    connection.zadd(registry.key, members, xx=True)  # score = expiry time; 0 is long past
    registry.cleanup()  # public: RQ's own abandoned-job handling for expired members


def check() -> list[str]:
    """The private names above that this RQ no longer has, as sentences (empty when all is well)."""
    problems = []
    if not callable(getattr(Job, "_handle_success", None)):
        problems.append("rq.job.Job._handle_success is gone: micro-batching cannot record results.")
    else:
        params = inspect.signature(Job._handle_success).parameters
        missing = {"result_ttl", "pipeline", "worker_name"} - set(params)
        if missing:
            problems.append(f"Job._handle_success no longer takes {', '.join(sorted(missing))}.")
    if "_result" not in inspect.getsource(Job._handle_success):
        problems.append("Job._handle_success no longer reads job._result: batched results would be lost.")
    if not callable(getattr(StartedJobRegistry, "get_job_and_execution_ids", None)):
        problems.append("StartedJobRegistry.get_job_and_execution_ids is gone: the reaper cannot list jobs.")
    from rq.worker import BaseWorker

    if not callable(getattr(BaseWorker, "_install_signal_handlers", None)):
        problems.append("BaseWorker._install_signal_handlers is gone: an early SIGTERM would not stop a worker.")
    if "self._stop_requested" not in inspect.getsource(BaseWorker.work):
        problems.append("BaseWorker.work no longer reads _stop_requested: an early SIGTERM would not stop it.")
    try:
        from rq.utils import parse_composite_key

        same_format = parse_composite_key("job-1:exec-1") == ("job-1", "exec-1")
    except ImportError:
        same_format = False
    if not same_format:
        problems.append("Started-registry members are no longer 'job_id:execution_id': the reaper cannot expire.")
    return problems
