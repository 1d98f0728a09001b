"""Signs of life for `sentibot health worker|bot` (docker compose healthchecks) and the first start.

A worker is healthy while its heartbeat key in Redis is fresh (worker/reaper.py beats every second);
workers are named ``<hostname>.<pid>.<random>``, so the check finds this container's own. The bot
is healthy while it takes updates (its update loop polls, or in webhook mode its webhook server
listens) and Redis answers: every few seconds it checks both and, if so, refreshes
``sentibot:bot:alive:<hostname>``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket

import redis

from common.settings import Settings
from model.recipes import plan
from worker import client, training
from worker.errors import TrainingBusy
from worker.reaper import alive_workers
from worker.registry import ModelRegistry

log = logging.getLogger(__name__)

HOST = socket.gethostname()
BOT_ALIVE = "sentibot:bot:alive:{host}"
BOT_BEAT_S = 5  # the bot refreshes its key this often...
BOT_ALIVE_TTL_S = 20  # ...and is unhealthy once it has not for this long
FIRST_START = "the first start"  # who a first-start training is requested by


def worker_name(base: str | None = None) -> str:
    """A name for one start of a work loop: ``<base>.<random>`` (base: ``<hostname>.<pid>``), never reused.

    In a container the worker is PID 1 and the hostname survives a restart, so ``hostname.pid`` alone
    comes back after a SIGKILL: RQ refuses it until the dead one's key expires (minutes), and a worker
    beating under the dead one's name hides that one's jobs from the reaper. The host prefix tells the
    health check which host runs it.
    """
    return f"{base or f'{HOST}.{os.getpid()}'}.{secrets.token_hex(3)}"


def worker_health(connection: redis.Redis) -> tuple[bool, str]:
    """(healthy, sentence) for the workers of this host."""
    mine = [name for name in alive_workers(connection) if name.startswith(f"{HOST}.")]
    if mine:
        return True, f"worker {', '.join(mine)} is alive"
    return False, f"no worker on {HOST} has sent a heartbeat in the last few seconds"


def mark_bot_alive(connection: redis.Redis) -> None:
    """The bot's beat: called only while it takes updates (polling, or its webhook server listening)."""
    connection.set(BOT_ALIVE.format(host=HOST), 1, ex=BOT_ALIVE_TTL_S)


def bot_health(connection: redis.Redis) -> tuple[bool, str]:
    """(healthy, sentence) for the bot on this host."""
    if connection.exists(BOT_ALIVE.format(host=HOST)):
        return True, "the bot is taking updates from Telegram (polling or webhook) and Redis answers"
    return False, f"the bot on {HOST} has not confirmed taking updates in the last {BOT_ALIVE_TTL_S} s"


def first_training(connection: redis.Redis, settings: Settings) -> str | None:
    """The first-start rule, one for `sentibot up` and a training worker alike: while no model is live, a
    training of the default architecture runs. Returns its job id (the one already running, or one queued
    now), or None when a model is live."""
    if ModelRegistry(connection).current() is not None:
        return None
    running = training.running(connection)
    if running is not None:
        return running["job_id"]
    try:
        job_id = client.start_training(connection, plan(settings.default_arch), FIRST_START, settings.train_timeout_s)
    except TrainingBusy as busy:  # another process started it a moment ago
        return busy.running.get("job_id")
    log.info("no model is live: training the first one (%s, job %s)", settings.default_arch, job_id)
    return job_id
