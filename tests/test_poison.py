"""A job that kills every worker holding it is failed after three crashes, not given back forever (issue 21.13).

The deaths are what the reaper sees after a SIGKILL: a worker in the workers set with no heartbeat,
holding a claimed batch in its in-flight list (as tests/test_worker_faults.py's reaper test does).
"""

from __future__ import annotations

import pytest

from tests.processes import run_burst
from worker.client import submit_review, wait_result
from worker.errors import JobFailed
from worker.poison import MAX_CRASHES
from worker.queues import SCORE, get_queue
from worker.reaper import BEATING, INFLIGHT, reap


def die_holding(connection, ghost: str, count: int) -> None:
    """A worker named ``ghost`` claims the first ``count`` waiting reviews and dies (heartbeat gone)."""
    queue = get_queue(connection, SCORE)
    for _ in range(count):
        connection.lmove(queue.key, INFLIGHT.format(name=ghost), "LEFT", "RIGHT")
    connection.sadd(BEATING, ghost)
    reap(connection)


def test_a_job_that_crashed_three_workers_fails_with_its_reason_and_is_not_retried(connection, worker_settings):
    """Given back after the first two deaths, failed after the third: "crashed 3 workers", off the queue."""
    poison = submit_review(connection, "the review that kills workers")
    queue = get_queue(connection, SCORE)
    for death in range(MAX_CRASHES):
        assert queue.job_ids[0] == poison.id, f"not given back after death {death}"
        die_holding(connection, f"ghost{death}", 1)
    assert poison.id not in queue.job_ids and queue.count == 0
    with pytest.raises(JobFailed, match="It crashed 3 workers, so it was not run again"):
        wait_result(poison, 5)
    assert poison.id in queue.failed_job_registry.get_job_ids()


def test_reviews_given_back_after_a_crash_are_scored_alone_not_batched(connection, worker_settings, live_model):
    """A batch whose worker died: each of its reviews runs on its own afterwards (batch of 1), so one poison
    review cannot take the others down again; reviews that never crashed a worker are still batched."""
    survivors = [submit_review(connection, f"a superb film {i}") for i in range(8)]
    die_holding(connection, "ghost", len(survivors))
    fresh = [submit_review(connection, f"a brilliant film {i}") for i in range(40)]
    run_burst(connection, worker_settings)
    assert [wait_result(job, 5)["batch"] for job in survivors] == [1] * len(survivors)
    assert max(wait_result(job, 5)["batch"] for job in fresh) > 1
