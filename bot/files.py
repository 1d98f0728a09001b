"""A .txt or .csv document: one job on the files queue (the worker reads and scores it); a results CSV, a
summary and a histogram, or one sentence saying why not. One file per user at a time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import PurePath

from telegram import InputFile, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.chat import Deps, deps, for_the_bot, over_the_limit, owner_of, user_id_of
from bot.errors import sentence_for
from common.errors import SentibotError
from worker import client, files
from worker.file_watch import FileWatch

FILE_PROGRESS_ROWS = 2000  # files with at least this many reviews get a progress message...
FILE_PROGRESS_AFTER_S = 3.0  # ...and so does any file not scored after this long
FILE_EDIT_EVERY_S = 2.0  # the progress message is edited at most this often (Telegram limits edits)
FILE_POLL_S = 0.5


async def score_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Score every row of an uploaded file; in groups only when the file is sent in reply to the bot."""
    message = update.effective_message
    document = message.document
    if not for_the_bot(message, context.bot.id):
        return
    d = deps(context)
    if await over_the_limit(d, message, user_id_of(update)):
        return
    name = document.file_name or ""
    try:
        files.check_upload(name, document.file_size or 0)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        owner = owner_of(d, update)
        job = await asyncio.to_thread(client.submit_file, d.connection, name, data, owner)
    except SentibotError as exc:
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(sentence_for(exc))
        return
    try:
        snapshot = await follow_file(d, job.id, message)
        if snapshot.state != "finished":
            metrics.ERROR_REPLIES.inc()
            await message.reply_text(replies.file_failed(snapshot.reason))
            return
        table, histogram = await asyncio.to_thread(client.file_results, d.connection, snapshot.result["file_id"])
    except SentibotError as exc:
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(replies.file_failed(sentence_for(exc)))
        return
    finally:
        with contextlib.suppress(SentibotError):
            await asyncio.to_thread(client.free_file_slot, d.connection, owner)
    scored_name = f"{PurePath(name or 'reviews').stem}-scored.csv"
    await message.reply_document(InputFile(table, filename=scored_name), caption=replies.file_summary(snapshot.result))
    if histogram:
        await message.reply_photo(histogram, caption=replies.HISTOGRAM_CAPTION)


def progress_text(snapshot: client.FileSnapshot) -> str:
    """What the progress message says for a file job that has not ended."""
    if snapshot.state == "queued":
        return replies.file_waiting(snapshot.ahead, snapshot.workers)
    if snapshot.stage == "scoring":
        return replies.file_progress(snapshot.done, snapshot.total, snapshot.rate)
    return replies.file_stage(snapshot.stage)


async def follow_file(d: Deps, job_id: str, message: Message) -> client.FileSnapshot:
    """Poll a file job until it ends or is given up on (worker/file_watch.py), keeping one progress message
    (rows, rate, time left) up to date for a big or slow file; never holds a thread long."""
    watch = FileWatch(job_id, d.settings.file_pickup_timeout_s, d.settings.file_stall_timeout_s)
    started, edited = time.monotonic(), 0.0
    progress: Message | None = None
    shown = ""
    while True:
        snapshot = await asyncio.to_thread(watch.look, d.connection)
        if snapshot.state in ("finished", "failed"):
            if watch.gave_up:
                with contextlib.suppress(SentibotError):
                    await asyncio.to_thread(client.abandon_file, d.connection, job_id)
            if progress is not None and snapshot.state == "finished":
                with contextlib.suppress(TelegramError):
                    await progress.edit_text(replies.file_progress(snapshot.done, snapshot.total))
            return snapshot
        text = progress_text(snapshot)
        now = time.monotonic()
        wanted = snapshot.total >= FILE_PROGRESS_ROWS or now - started >= FILE_PROGRESS_AFTER_S
        if wanted and text != shown and now - edited >= FILE_EDIT_EVERY_S:
            shown, edited = text, now
            with contextlib.suppress(TelegramError):  # a message or an edit that fails costs nothing but itself
                if progress is None:
                    progress = await message.reply_text(text)
                else:
                    await progress.edit_text(text)
        await asyncio.sleep(FILE_POLL_S)
