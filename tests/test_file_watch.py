"""Following a file job: wait while it moves, give up only when no worker takes it or it stops moving.
Real Redis and RQ jobs; the clock is the watch's own, moved by hand."""

from __future__ import annotations

import pytest
from rq.job import JobStatus

from worker import client, files, identity
from worker.file_watch import NO_WORKER, STALLED, FileWatch
from worker.queues import FILE_JOB, FILES, SCORE, get_queue

KEY = b"a test key, never in Redis"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running(job, stage: str, done: int, total: int = 2000) -> None:
    """Put the job where a worker scoring it would: started, with progress in its meta."""
    job.set_status(JobStatus.STARTED)
    job.meta["file"] = {"stage": stage, "done": done, "total": total, "rate": 50.0}
    job.save_meta()


def test_a_queued_file_with_no_file_worker_is_given_up_after_the_pickup_time(connection):
    clock = Clock()
    job = client.submit_file(connection, "r.txt", b"great\n")
    watch = FileWatch(job.id, pickup_s=60, stall_s=120, clock=clock)
    first = watch.look(connection)
    assert first.state == "queued" and first.workers == 0 and first.ahead == 0
    clock.now = 59
    assert watch.look(connection).state == "queued"
    clock.now = 60
    gave_up = watch.look(connection)
    assert gave_up.state == "failed" and watch.gave_up == NO_WORKER
    assert gave_up.reason == "no worker picked it up within 60 s: no worker that scores files is running."
    client.abandon_file(connection, job.id)
    assert get_queue(connection, FILES).count == 0


def test_a_file_that_keeps_moving_is_never_given_up_however_long_it_takes(connection):
    """An hour of slow progress, one row a minute: still followed (the old rule gave up after 64 s)."""
    clock = Clock()
    job = client.submit_file(connection, "r.txt", b"great\n")
    watch = FileWatch(job.id, pickup_s=60, stall_s=120, clock=clock)
    running(job, "reading", 0)
    assert watch.look(connection).state == "running"
    for minute in range(1, 61):
        clock.now = minute * 60.0
        running(job, "scoring", minute)
        snapshot = watch.look(connection)
        assert snapshot.state == "running" and snapshot.done == minute and snapshot.rate == 50.0
    assert not watch.gave_up


def test_a_file_that_stops_moving_is_given_up_after_the_stall_time(connection):
    clock = Clock()
    job = client.submit_file(connection, "r.txt", b"great\n")
    watch = FileWatch(job.id, pickup_s=60, stall_s=120, clock=clock)
    running(job, "scoring", 1024)
    watch.look(connection)
    clock.now = 119
    assert watch.look(connection).state == "running"
    clock.now = 120
    gave_up = watch.look(connection)
    assert gave_up.state == "failed" and watch.gave_up == STALLED
    assert "made no progress for 120 s (it stopped at 1,024 of 2,000 reviews)" in gave_up.reason


def test_a_live_file_worker_keeps_a_queued_file_waiting(connection):
    """Workers alive but busy with other files: the file waits its turn (and is told how many are ahead)."""
    from worker.reaper import beat

    clock = Clock()
    get_queue(connection, FILES).enqueue(FILE_JOB, kwargs={"file_id": "someone-else"})
    job = client.submit_file(connection, "r.txt", b"great\n")
    connection.hset("rq:worker:filer", mapping={"queues": "files"})
    beat(connection, "filer")
    watch = FileWatch(job.id, pickup_s=60, stall_s=120, clock=clock)
    for clock.now in (0, 100, 1000):
        snapshot = watch.look(connection)
        assert snapshot.state == "queued" and snapshot.workers == 1 and snapshot.ahead == 1
    assert not watch.gave_up


def test_one_file_per_user_at_a_time(connection):
    """A second file while the first is in progress is refused with a sentence; once it ended, the slot is free."""
    owner = identity.user_hash(KEY, 123456789)
    assert "123456789" not in owner and not connection.keys("*123456789*")
    first = client.submit_file(connection, "a.txt", b"great\n", owner)
    with pytest.raises(files.FileInProgress, match="still scoring your last file"):
        client.submit_file(connection, "b.txt", b"great\n", owner)
    assert get_queue(connection, FILES).count == 1
    other = client.submit_file(connection, "c.txt", b"great\n", identity.user_hash(KEY, 987654321))
    client.free_file_slot(connection, owner)
    second = client.submit_file(connection, "b.txt", b"great\n", owner)
    assert second.id not in (first.id, other.id)
    # a slot whose job ended without being freed (the bot restarted meanwhile) is free again
    second.set_status(JobStatus.FINISHED)
    client.submit_file(connection, "d.txt", b"great\n", owner)


@pytest.mark.slow
def test_a_file_job_on_the_score_queue_is_refused(connection, worker_settings, live_model):
    """Each job runs only from its own queue: a file job on the score queue would hold a review worker."""
    from tests.processes import run_burst

    job = client.submit_file(connection, "r.txt", b"great\n")
    misplaced = get_queue(connection, SCORE).enqueue(FILE_JOB, kwargs={"file_id": job.kwargs["file_id"]})
    run_burst(connection, worker_settings, queues=("score",))
    snapshot = client.file_snapshot(connection, misplaced.id)
    assert snapshot.state == "failed" and "runs only from the 'files' queue" in snapshot.reason
