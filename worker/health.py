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
import time

import redis

from common.settings import Settings
from model.recipes import plan, recipe
from worker import client, training
from worker.errors import TrainingBusy
from worker.reaper import ALIVE_TTL_S, alive_workers
from worker.registry import ModelRegistry
from worker.training import FIRST_START, FIRST_START_DEFAULT

log = logging.getLogger(__name__)

HOST = socket.gethostname()
BOT_ALIVE = "sentibot:bot:alive:{host}"
BOT_BEAT_S = 5  # the bot refreshes its key this often...
BOT_ALIVE_TTL_S = 20  # ...and is unhealthy once it has not for this long
FAST_FIRST = "nbsvm"  # the first model when the default is slow: live in about a minute on 2 cores
DEFAULT_TRIED = "sentibot:first_start:default_tried"  # set once the first start's default training has ended


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


def first_arch(default: str) -> str:
    """What the first start trains first: the default itself when it is quick, else the fast model (the
    default, a pretrained transformer or a blend, would keep every chat waiting for half an hour)."""
    slow = recipe(default).pretrained or recipe(default).parts
    return FAST_FIRST if slow and default != FAST_FIRST else default


def mark_default_tried(connection: redis.Redis) -> None:
    """The first start's default training ended (live or refused by the gate): the first start is over."""
    connection.set(DEFAULT_TRIED, 1)


def first_training(connection: redis.Redis, settings: Settings) -> str | None:
    """The first-start rule, one for `sentibot up` and a training worker alike, in two steps: while no model
    is live, the fast first model trains; once it is live, the default trains in the background (once: a
    default the gate refused is not retried; one that was interrupted is). Returns the job id of the
    training this rule wants (the one already running, or one queued now), or None when nothing is left."""
    live = ModelRegistry(connection).current_meta()
    if live is None:
        arch, who = first_arch(settings.default_arch), FIRST_START
    elif live.get("arch") != settings.default_arch and first_arch(settings.default_arch) == live.get("arch"):
        if connection.exists(DEFAULT_TRIED):
            return None
        arch, who = settings.default_arch, FIRST_START_DEFAULT
    else:
        return None
    running = _still_running(connection)
    if running is not None:
        return running["job_id"]
    try:
        job_id = client.start_training(connection, plan(arch), who, settings.train_timeout_s)
    except TrainingBusy as busy:  # another process started it a moment ago
        return busy.running.get("job_id")
    why = "no model is live" if live is None else "the default, in the background"
    log.info("first start: training %s (%s, job %s)", arch, why, job_id)
    return job_id


def _still_running(connection: redis.Redis) -> dict | None:
    """The training in progress, if any. One found at a start may be an earlier start's, its worker stopped
    with that stack a moment ago: it counts as orphaned only once that worker's heartbeat has expired, so
    look again after ALIVE_TTL_S rather than wait on a training nobody will finish (this start's workers
    can be ready sooner than that)."""
    if training.running(connection) is None:
        return None
    time.sleep(ALIVE_TTL_S + 1)
    return training.running(connection)
