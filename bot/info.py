"""Everything else a person can ask: help, the live model, the service's status, their own data, and
what the bot cannot do (unknown commands, photos and stickers)."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot import replies, reports
from bot.chat import deps, for_the_bot, is_admin, owner_of, refused_unless_admin, user_id_of, well_formed
from bot.errors import sentence_for
from common.errors import SentibotError
from worker import client, feedback, forget


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets the user and explains what the bot does."""
    await update.effective_message.reply_text(replies.greeting())


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists what the bot does and its commands."""
    await update.effective_message.reply_text(replies.HELP)


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows the live model's version, architecture, accuracy and date."""
    meta = await asyncio.to_thread(client.live_model, deps(context).connection)
    better = await asyncio.to_thread(client.better_model_training, deps(context).connection)
    await update.effective_message.reply_text(reports.model_info(meta, better))


async def status_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows queue lengths, live workers and training progress."""
    figures = await asyncio.to_thread(client.service_status, deps(context).connection)
    await update.effective_message.reply_text(replies.status(*figures, show_who=is_admin(update, context)))


async def forget_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deletes everything of the user: reviews rated, reviews kept for their buttons, their jobs and results."""
    d = deps(context)
    try:
        legacy = await asyncio.to_thread(feedback.legacy_hash, d.connection, user_id_of(update))
        owners = [owner_of(d, update), *([legacy] if legacy else [])]
        gone = await asyncio.to_thread(forget.forget_user, d.connection, owners)
    except SentibotError as exc:
        await update.effective_message.reply_text(replies.NOT_FORGOTTEN.format(why=sentence_for(exc)))
        return
    await update.effective_message.reply_text(replies.forgotten(gone.rated, gone.reviews))


async def feedback_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: what users taught the model so far."""
    if await refused_unless_admin(update, context, "see the feedback"):
        return
    d = deps(context)
    found = await asyncio.to_thread(feedback.summary, d.connection)
    disagreeing: list[dict] | str | None = None
    if found.total:
        try:  # the live model's view needs a worker (the bot has no TensorFlow)
            job = await asyncio.to_thread(client.submit_rank_feedback, d.connection)
            disagreeing = (await client.wait_result_async(d.aconnection, job.id, d.settings.score_timeout_s))["items"]
        except SentibotError as exc:
            disagreeing = sentence_for(exc)
    await update.effective_message.reply_text(
        replies.feedback_summary(found.total, found.agreed, found.users, found.corrections, disagreeing)
    )


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Points unknown commands to /help."""
    command = well_formed(update.effective_message.text or "/").split()[0]
    await update.effective_message.reply_text(replies.unknown_command(command))


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explains that only text is scored (photos, stickers, voice, locations...)."""
    message = update.effective_message
    if message is None or not for_the_bot(message, context.bot.id):
        return
    await message.reply_text(replies.NOT_TEXT)
