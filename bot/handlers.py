"""One async function per thing a person can do; blocking calls into worker.client run in threads.

Each handler reads ``update.effective_message`` and answers with a sentence from bot/replies.py.
Errors from the queue side (Redis down, timeout, job failed) are SentibotErrors: their message
is the reply, so nobody ever gets silence or a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import PurePath

import redis
import redis.asyncio
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.errors import sentence_for
from bot.ratelimit import RateLimiter
from bot.retrain_args import BadRetrainArguments, parse_retrain_args
from common.errors import SentibotError
from common.settings import Settings
from model.encoding import tokenize
from worker import client, feedback, files, health
from worker.errors import FeedbackLimit, JobFailed, NotFound, TrainingBusy

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 1.0  # how often a running training is checked for new epochs
FILE_PROGRESS_ROWS = 2000  # files with at least this many reviews get a progress message
FILE_POLL_S = 0.5
FILE_WAIT_BASE_S = 60  # how long a file may wait for a worker, plus...
FILE_WAIT_ROWS_PER_S = 500  # ...one second per this many rows
TYPING_AFTER_S = 0.3  # show "typing..." when a verdict takes longer than this
REPLY_MARGIN_S = 0.5  # of SCORE_TIMEOUT, kept for sending the reply itself


@dataclass
class Deps:
    """What the handlers need, built once in app.py and kept in bot_data."""

    settings: Settings
    connection: redis.Redis  # short calls, run in threads
    aconnection: redis.asyncio.Redis  # waiting for verdicts on the event loop, no thread held
    limiter: RateLimiter


def deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    """The shared dependencies."""
    return context.bot_data["deps"]


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the sender may retrain and cancel."""
    user = update.effective_user
    return user is not None and user.id in deps(context).settings.admin_ids


async def refused_unless_admin(update: Update, context: ContextTypes.DEFAULT_TYPE, action: str) -> bool:
    """Tell a non-admin that only admins may ``action`` (True); admins pass (False)."""
    if is_admin(update, context):
        return False
    await update.effective_message.reply_text(f"Sorry, only the bot's admins can {action}.")
    return True


def well_formed(text: str) -> str:
    """The text with lone UTF-16 surrogates (JSON can carry them, UTF-8 cannot) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def addressed_text(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The review in a message, or None when a group message is not meant for the bot."""
    text = well_formed(message.text or "")
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{bot_username}"
    if mention.lower() in text.lower():
        start = text.lower().index(mention.lower())
        return (text[:start] + text[start + len(mention) :]).strip()
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text
    return None


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets the user and explains what the bot does."""
    await update.effective_message.reply_text("Hi! " + replies.HELP)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists what the bot does and its commands."""
    await update.effective_message.reply_text(replies.HELP)


async def score_review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Replies with the verdict for a review, or says why it cannot."""
    message = update.effective_message
    text = addressed_text(message, context.bot.username, context.bot.id)
    if text is None:
        return  # group chatter not meant for the bot
    d = deps(context)
    user_id = update.effective_user.id if update.effective_user else 0
    if await over_the_limit(d, message, user_id):
        return
    if len(text) > replies.MAX_CHARS:
        await message.reply_text(f"That is too long for me: please send at most {replies.MAX_CHARS:,} characters.")
        return
    if not tokenize(text):
        await message.reply_text(replies.NO_WORDS)
        return
    typing = cosmetic(context, show_typing(message), "typing indicator")
    budget = d.settings.score_timeout_s - min(REPLY_MARGIN_S, d.settings.score_timeout_s / 4)  # keep time to reply
    deadline = time.monotonic() + budget
    try:
        job = await asyncio.wait_for(
            asyncio.to_thread(client.submit_review, d.connection, text, message.chat_id, user_id), budget
        )
        result = await client.wait_result_async(d.aconnection, job.id, max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(f"I couldn't score that: {replies.QUEUE_SLOW}")
        return
    except SentibotError as exc:
        metrics.ERROR_REPLIES.inc()
        await message.reply_text(f"I couldn't score that: {await why_not_scored(d, exc)}")
        return
    finally:
        typing.cancel()
    buttons = None
    try:
        await client.keep_review_async(d.aconnection, job.id, text, result)
        buttons = verdict_buttons(job.id, result, d.settings.mixed_band)
    except SentibotError:
        log.info("review not kept for the Why? and 👍/👎 buttons: Redis went away after scoring")
    await message.reply_text(replies.verdict(result, d.settings.mixed_band), reply_markup=buttons)


def verdict_buttons(key: str, result: dict, mixed: tuple[float, float]) -> InlineKeyboardMarkup:
    """Why? and 👍/👎 under a verdict; a "Mixed / not sure" one asks which it is instead of 👍/👎.

    A rating button's data names the label the user says is right: ``rate:<key>:positive``.
    """
    label, other = result["label"], "negative" if result["label"] == "positive" else "positive"
    if mixed[0] <= result["score"] <= mixed[1]:
        rate = [("It's positive", "positive"), ("It's negative", "negative")]
    else:
        rate = [("👍", label), ("👎", other)]
    row = [InlineKeyboardButton("Why?", callback_data=f"why:{key}")]
    row += [InlineKeyboardButton(text, callback_data=f"rate:{key}:{right}") for text, right in rate]
    return InlineKeyboardMarkup([row])


def without_buttons(markup: InlineKeyboardMarkup | None, prefix: str) -> InlineKeyboardMarkup | None:
    """The message's buttons minus those whose data starts with ``prefix`` (None when none are left)."""
    if markup is None:
        return None
    rows = [[b for b in row if not (b.callback_data or "").startswith(prefix)] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


async def over_the_limit(d: Deps, message: Message, user_id: int) -> bool:
    """Count the message against the user's rate limit; past it, say when to try again (True)."""
    if d.limiter.allow(user_id):
        return False
    metrics.RATE_LIMITED.inc()
    await message.reply_text(
        f"Slow down a little: at most {d.settings.rate_limit_per_minute} reviews a minute. "
        f"Try again in {d.limiter.retry_after(user_id)} s."
    )
    return True


async def why_not_scored(d: Deps, exc: SentibotError) -> str:
    """The sentence for a failed review; with no model live yet, how far the training of one has got."""
    if isinstance(exc, JobFailed) and exc.kind == "ModelUnavailable":
        try:
            running = await asyncio.to_thread(client.running_training, d.connection)
        except SentibotError:
            running = None
        if running is not None:
            return replies.model_in_training(running, first=running.get("requested_by") == health.FIRST_START)
    return sentence_for(exc)


def cosmetic(context: ContextTypes.DEFAULT_TYPE, call: Coroutine, what: str) -> asyncio.Task:
    """Run a Telegram call the reply does not depend on (typing indicator...) beside it: its failure,
    a 429 included, is logged and never costs the user the reply."""

    async def guarded() -> None:
        try:
            await call
        except TelegramError as exc:
            log.info("%s failed: %s", what, exc)

    return context.application.create_task(guarded(), name=what)


async def show_typing(message: Message) -> None:
    """ "typing..." only when the verdict is slow: a verdict in milliseconds needs no indicator."""
    await asyncio.sleep(TYPING_AFTER_S)
    await message.reply_chat_action(ChatAction.TYPING)


async def score_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A .txt/.csv document: every row scored as one queue job; a results CSV, a summary and a histogram."""
    message = update.effective_message
    document = message.document
    if message.chat.type != ChatType.PRIVATE and not replies_to_bot(message, context.bot.id):
        return  # files in groups are scored only when sent in reply to the bot
    d = deps(context)
    user_id = update.effective_user.id if update.effective_user else 0
    if await over_the_limit(d, message, user_id):
        return
    try:
        files.check_upload(document.file_name or "", document.file_size or 0)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        reviews = files.read_reviews(document.file_name or "", data, d.settings.max_file_rows)
        job = await asyncio.to_thread(client.submit_file, d.connection, reviews, message.chat_id)
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
        await message.reply_text(f"I couldn't score that file: {snapshot.reason}")
        return
    table, histogram = await asyncio.to_thread(client.file_results, d.connection, snapshot.result["file_id"])
    name = f"{PurePath(document.file_name or 'reviews').stem}-scored.csv"
    await message.reply_document(InputFile(table, filename=name), caption=replies.file_summary(snapshot.result))
    if histogram:
        await message.reply_photo(histogram, caption="How the scores spread (P(positive))")


async def follow_file(d: Deps, job_id: str, rows: int, progress: Message | None) -> client.FileSnapshot:
    """Poll a file job until it ends, editing the progress message as chunks finish; never holds a thread long."""
    deadline = time.monotonic() + FILE_WAIT_BASE_S + rows / FILE_WAIT_ROWS_PER_S
    shown = -1
    while True:
        try:
            snapshot = await asyncio.to_thread(client.file_snapshot, d.connection, job_id)
        except SentibotError as exc:
            return client.FileSnapshot("failed", reason=str(exc))
        if snapshot.state in ("finished", "failed", "missing"):
            if snapshot.state == "missing":
                return client.FileSnapshot("failed", reason=snapshot.reason)
            return snapshot
        percent = 100 * snapshot.done // max(1, snapshot.total)
        if progress is not None and percent != shown:
            shown = percent
            with contextlib.suppress(TelegramError):  # an edit that fails costs nothing but the edit
                await progress.edit_text(replies.file_progress(snapshot.done, snapshot.total or rows))
        if time.monotonic() > deadline:
            return client.FileSnapshot(
                "failed", reason="no worker finished it in time: the service is busy or no scoring worker is running."
            )
        await asyncio.sleep(FILE_POLL_S)


def replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


async def why_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "Why?" button under a verdict: the words that pushed it up or down."""
    query = update.callback_query
    await query.answer()
    chat_id = update.effective_chat.id
    key = (query.data or "").partition(":")[2]
    d = deps(context)
    try:
        text = await asyncio.to_thread(client.kept_review, d.connection, key)
        if text is None:
            await context.bot.send_message(chat_id, replies.WHY_EXPIRED)
            return
        job = await asyncio.to_thread(client.submit_explain, d.connection, text)
        result = await client.wait_result_async(d.aconnection, job.id, d.settings.score_timeout_s)
    except SentibotError as exc:
        await context.bot.send_message(chat_id, f"I couldn't explain that verdict: {sentence_for(exc)}")
        return
    await context.bot.send_message(chat_id, replies.explanation(result))
    await remove_buttons(query, "why:")  # answered: the button has done its job


async def remove_buttons(query, prefix: str) -> None:
    """Take the used buttons off the message; the others stay."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    try:
        await query.edit_message_reply_markup(reply_markup=without_buttons(markup, prefix))
    except TelegramError as exc:  # too old to edit, or already edited by a double tap: nothing lost
        log.info("%s buttons not removed: %s", prefix, exc)


async def rate_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍/👎 under a verdict: store the review with the label the user says is right, thank them once."""
    query = update.callback_query
    d = deps(context)
    user_id = update.effective_user.id if update.effective_user else 0
    _, key, label = ((query.data or "") + "::").split(":")[:3]
    if label not in feedback.LABELS:  # not a button this bot made
        await query.answer(replies.FEEDBACK_UNKNOWN)
        return
    if not d.limiter.allow(user_id):
        metrics.RATE_LIMITED.inc()
        await query.answer(f"Slow down a little: try again in {d.limiter.retry_after(user_id)} s.")
        return
    try:
        kept = await asyncio.to_thread(client.kept_verdict, d.connection, key)
        if kept is None:
            await query.answer()
            await context.bot.send_message(update.effective_chat.id, replies.FEEDBACK_EXPIRED)
            await remove_buttons(query, "rate:")
            return
        new = await asyncio.to_thread(
            feedback.record,
            d.connection,
            user_id,
            kept["text"],
            label,
            kept["label"],
            kept["model"] or "unknown",
            d.settings.feedback_per_day,
        )
    except FeedbackLimit as exc:
        await query.answer(str(exc), show_alert=True)
        return
    except SentibotError as exc:
        await query.answer()
        await context.bot.send_message(update.effective_chat.id, f"I couldn't store that: {sentence_for(exc)}")
        return
    await query.answer(replies.FEEDBACK_THANKS if new else replies.FEEDBACK_AGAIN)
    await remove_buttons(query, "rate:")


async def forget_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deletes every review the user rated."""
    user_id = update.effective_user.id if update.effective_user else 0
    count = await asyncio.to_thread(feedback.forget, deps(context).connection, user_id)
    await update.effective_message.reply_text(replies.forgotten(count))


async def feedback_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: what users taught the model so far."""
    if await refused_unless_admin(update, context, "see the feedback"):
        return
    message = update.effective_message
    found = await asyncio.to_thread(feedback.summary, deps(context).connection)
    await message.reply_text(replies.feedback_summary(found.total, found.agreed, found.users, found.corrections))


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows the live model's version, architecture, accuracy and date."""
    meta = await asyncio.to_thread(client.live_model, deps(context).connection)
    await update.effective_message.reply_text(replies.model_info(meta))


async def status_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows queue lengths, live workers and training progress."""
    figures = await asyncio.to_thread(client.service_status, deps(context).connection)
    await update.effective_message.reply_text(replies.status(*figures, show_who=is_admin(update, context)))


async def retrain(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: starts a training job and keeps one progress message up to date."""
    if await refused_unless_admin(update, context, "retrain the model"):
        return
    message = update.effective_message
    d = deps(context)
    try:
        plan = parse_retrain_args(context.args or [], d.settings.default_arch)
    except BadRetrainArguments as exc:
        await message.reply_text(str(exc))
        return
    user = update.effective_user
    who = f"{user.full_name} (id {user.id})"
    try:
        job_id = await asyncio.to_thread(
            client.start_training, d.connection, plan, who, message.chat_id, d.settings.train_timeout_s
        )
    except TrainingBusy as exc:
        await message.reply_text(str(exc) + " Use /cancel to stop it.")
        return
    await message.reply_text(replies.training_queued(job_id, plan))
    progress = await message.reply_text(replies.progress(job_id, [], plan.epochs, "waiting for a worker"))
    context.job_queue.run_repeating(
        watch_training,
        interval=WATCH_INTERVAL_S,
        first=WATCH_INTERVAL_S,
        name=job_id,
        chat_id=message.chat_id,
        data={"watch": client.TrainingWatch(job_id), "message_id": progress.message_id, "epochs": plan.epochs},
    )


async def watch_training(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Edits the progress message when the training moves; reports the end with the table and chart."""
    job = context.job
    data = job.data
    try:
        snapshot = await asyncio.to_thread(data["watch"].look, deps(context).connection)
    except SentibotError:
        return  # Redis briefly away: try again on the next tick
    if snapshot is None:
        return  # nothing new since the last tick
    text = replies.progress(snapshot.job_id, snapshot.epochs, data["epochs"], snapshot.stage)
    try:
        await context.bot.edit_message_text(text, chat_id=job.chat_id, message_id=data["message_id"])
    except TelegramError as exc:  # unchanged text or an old message: the next change edits again
        log.info("progress message not edited: %s", exc)
    if not snapshot.ended:
        return
    job.schedule_removal()
    await context.bot.send_message(
        job.chat_id, replies.training_ended(snapshot.job_id, snapshot.state, snapshot.result, snapshot.reason)
    )
    if snapshot.chart:
        await context.bot.send_photo(job.chat_id, photo=snapshot.chart, caption="Accuracy and loss per epoch")


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: asks to confirm stopping the running training."""
    if await refused_unless_admin(update, context, "cancel a training"):
        return
    message = update.effective_message
    running = await asyncio.to_thread(client.running_training, deps(context).connection)
    if running is None:
        await message.reply_text("No training is running.")
        return
    job_id = running["job_id"]
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes, stop it", callback_data=f"cancel:{job_id}:yes"),
                InlineKeyboardButton("No, keep going", callback_data=f"cancel:{job_id}:no"),
            ]
        ]
    )
    await message.reply_text(
        f"Stop training {job_id} by {running['requested_by']} ({running['summary']})?",
        reply_markup=buttons,
    )


async def cancel_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handles the Yes/No buttons under a /cancel question."""
    query = update.callback_query
    await query.answer()
    if not is_admin(update, context):
        await query.edit_message_text("Only the bot's admins can cancel a training.")
        return
    _, job_id, choice = (query.data or "::").split(":", 2)
    if choice != "yes":
        await query.edit_message_text("OK, the training goes on.")
        return
    try:
        await asyncio.to_thread(client.cancel_training, deps(context).connection, job_id)
    except NotFound:
        await query.edit_message_text("That training is no longer running.")
        return
    await query.edit_message_text(f"Cancelling {job_id}: it stops after the current batch.")


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Points unknown commands to /help."""
    command = well_formed(update.effective_message.text or "/").split()[0]
    shown = command if len(command) <= 32 else command[:31] + "…"
    await update.effective_message.reply_text(f"I don't know {shown}. Send /help to see what I can do.")


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explains that only text is scored (photos, stickers, voice, locations...)."""
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
            return
    await message.reply_text(replies.NOT_TEXT)
