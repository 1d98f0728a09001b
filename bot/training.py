"""Admins train a new model from chat: /retrain with one progress message kept up to date, and /cancel."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import replies, reports
from bot.chat import deps, is_admin, refused_unless_admin
from bot.retrain_args import BadRetrainArguments, parse_retrain_args
from common.errors import SentibotError
from worker import client
from worker.errors import NotFound, TrainingBusy

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 1.0  # how often a running training is checked for new epochs


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
        job_id = await asyncio.to_thread(client.start_training, d.connection, plan, who, d.settings.train_timeout_s)
    except TrainingBusy as exc:
        await message.reply_text(replies.TRAINING_BUSY.format(busy=exc))
        return
    await message.reply_text(replies.training_queued(job_id, plan))
    progress = await message.reply_text(reports.progress(job_id, [], plan.epochs, "waiting for a worker"))
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
    text = reports.progress(snapshot.job_id, snapshot.epochs, data["epochs"], snapshot.stage)
    try:
        await context.bot.edit_message_text(text, chat_id=job.chat_id, message_id=data["message_id"])
    except TelegramError as exc:  # unchanged text or an old message: the next change edits again
        log.info("progress message not edited: %s", exc)
    if not snapshot.ended:
        return
    job.schedule_removal()
    await context.bot.send_message(
        job.chat_id, reports.training_ended(snapshot.job_id, snapshot.state, snapshot.result, snapshot.reason)
    )
    if snapshot.chart:
        await context.bot.send_photo(job.chat_id, photo=snapshot.chart, caption=replies.CHART_CAPTION)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: asks to confirm stopping the running training."""
    if await refused_unless_admin(update, context, "cancel a training"):
        return
    message = update.effective_message
    running = await asyncio.to_thread(client.running_training, deps(context).connection)
    if running is None:
        await message.reply_text(replies.NO_TRAINING)
        return
    job_id = running["job_id"]
    yes, no = replies.CANCEL_BUTTONS
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=f"cancel:{job_id}:yes"),
                InlineKeyboardButton(no, callback_data=f"cancel:{job_id}:no"),
            ]
        ]
    )
    who = running["requested_by"] if message.chat.type == ChatType.PRIVATE else None  # no names in groups
    question = replies.cancel_question(job_id, who, running["summary"])
    await message.reply_text(question, reply_markup=buttons)


async def cancel_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handles the Yes/No buttons under a /cancel question."""
    query = update.callback_query
    if not is_admin(update, context):  # in a group anyone can tap: tell the tapper alone, leave the question be
        await query.answer(replies.CANCEL_ONLY_ADMINS, show_alert=True)
        return
    await query.answer()
    _, job_id, choice = (query.data or "::").split(":", 2)
    if choice != "yes":
        await query.edit_message_text(replies.CANCEL_KEPT)
        return
    try:
        await asyncio.to_thread(client.cancel_training, deps(context).connection, job_id)
    except NotFound:
        await query.edit_message_text(replies.CANCEL_GONE)
        return
    await query.edit_message_text(replies.CANCELLING.format(job_id=job_id))
