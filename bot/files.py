"""A .txt or .csv document: every row scored as one queue job; a results CSV, a summary and a histogram."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import PurePath

from telegram import InputFile, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.chat import Deps, deps, for_the_bot, over_the_limit, user_id_of
from bot.errors import sentence_for
from common.errors import SentibotError
from worker import client, files

FILE_PROGRESS_ROWS = 2000  # files with at least this many reviews get a progress message
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
    try:
        files.check_upload(document.file_name or "", document.file_size or 0)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        reviews = files.read_reviews(document.file_name or "", data, d.settings.max_file_rows)
        job = await asyncio.to_thread(client.submit_file, d.connection, reviews)
    except SentibotError as exc:
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(sentence_for(exc))
        return
    scored = len(reviews.texts) - sum(reviews.skipped.values())
    progress = None
    if scored >= FILE_PROGRESS_ROWS:
        progress = await message.reply_text(replies.file_progress(0, scored))
    snapshot = await follow_file(d, job.id, scored, progress)
    if snapshot.state != "finished":
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(replies.FILE_NOT_SCORED.format(why=snapshot.reason))
        return
    table, histogram = await asyncio.to_thread(client.file_results, d.connection, snapshot.result["file_id"])
    name = f"{PurePath(document.file_name or 'reviews').stem}-scored.csv"
    await message.reply_document(InputFile(table, filename=name), caption=replies.file_summary(snapshot.result))
    if histogram:
        await message.reply_photo(histogram, caption=replies.HISTOGRAM_CAPTION)


async def follow_file(d: Deps, job_id: str, rows: int, progress: Message | None) -> client.FileSnapshot:
    """Poll a file job until it ends, editing the progress message as chunks finish; never holds a thread long."""
    deadline = time.monotonic() + client.file_deadline(rows)
    shown = -1
    while True:
        try:
            snapshot = await asyncio.to_thread(client.file_snapshot, d.connection, job_id)
        except SentibotError as exc:
            return client.FileSnapshot("failed", reason=str(exc))
        if snapshot.state in ("finished", "failed", "cancelled", "missing"):
            return snapshot
        percent = 100 * snapshot.done // max(1, snapshot.total)
        if progress is not None and percent != shown:
            shown = percent
            with contextlib.suppress(TelegramError):  # an edit that fails costs nothing but the edit
                await progress.edit_text(replies.file_progress(snapshot.done, snapshot.total or rows))
        if time.monotonic() > deadline:
            return client.FileSnapshot("failed", reason=replies.FILE_ABANDONED)
        await asyncio.sleep(FILE_POLL_S)
