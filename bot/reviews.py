"""A review typed into chat: its verdict, and the Why? and 👍/👎 buttons under it."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.chat import (
    Deps,
    addressed_text,
    cosmetic,
    deps,
    over_the_limit,
    owner_of,
    remove_buttons,
    user_id_of,
    within_the_limit,
)
from bot.delivery import owed
from bot.errors import sentence_for
from common.errors import SentibotError
from model.encoding import tokenize
from worker import client, feedback, health
from worker.errors import FeedbackLimit, JobFailed
from worker.queues import MAX_TEXT_CHARS

log = logging.getLogger(__name__)
TYPING_AFTER_S = 0.3  # show "typing..." when a verdict takes longer than this
REPLY_MARGIN_S = 0.5  # of SCORE_TIMEOUT, kept for sending the reply itself


async def score_review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Replies with the verdict for a review, or says why it cannot."""
    message = update.effective_message
    text = addressed_text(message, context.bot.username, context.bot.id)
    if text is None:
        return  # group chatter not meant for the bot
    d = deps(context)
    if await over_the_limit(d, message, user_id_of(update)):
        return
    if len(text) > MAX_TEXT_CHARS:
        await message.reply_text(replies.TOO_LONG)
        return
    if not tokenize(text):
        await message.reply_text(replies.NO_WORDS)
        return
    typing = cosmetic(context, show_typing(message), "typing indicator")
    due = time.monotonic() + d.settings.score_timeout_s  # the reply is owed by then
    budget = d.settings.score_timeout_s - min(REPLY_MARGIN_S, d.settings.score_timeout_s / 4)  # keep time to reply
    deadline = time.monotonic() + budget
    reply_to = f"the reply to a review in chat {message.chat_id}"
    try:
        owner = owner_of(d, update)
        job = await asyncio.wait_for(asyncio.to_thread(client.submit_review, d.connection, text, owner), budget)
        result = await client.wait_result_async(d.aconnection, job.id, max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        metrics.ERROR_REPLIES.inc()
        await owed(message.reply_text(replies.NOT_SCORED.format(why=replies.QUEUE_SLOW)), due, reply_to)
        return
    except SentibotError as exc:
        metrics.ERROR_REPLIES.inc()
        await owed(message.reply_text(replies.NOT_SCORED.format(why=await why_not_scored(d, exc))), due, reply_to)
        return
    finally:
        typing.cancel()
    buttons = None
    try:
        await client.keep_review_async(d.aconnection, job.id, text, result, owner)
        buttons = verdict_buttons(job.id, result, d.settings.mixed_band)
    except SentibotError:
        log.info("review not kept for the Why? and 👍/👎 buttons: Redis went away after scoring")
    await owed(message.reply_text(replies.verdict(result, d.settings.mixed_band), reply_markup=buttons), due, reply_to)


def verdict_buttons(key: str, result: dict, mixed: tuple[float, float]) -> InlineKeyboardMarkup:
    """Why? and 👍/👎 under a verdict; a "Mixed / not sure" one asks which it is instead of 👍/👎.

    A rating button's data names the label the user says is right: ``rate:<key>:positive``.
    """
    label, other = result["label"], "negative" if result["label"] == "positive" else "positive"
    if mixed[0] <= result["score"] <= mixed[1]:
        rate = list(zip(replies.MIXED_BUTTONS, ("positive", "negative"), strict=True))
    else:
        rate = list(zip(replies.RATE_BUTTONS, (label, other), strict=True))
    row = [InlineKeyboardButton(replies.WHY_BUTTON, callback_data=f"why:{key}")]
    row += [InlineKeyboardButton(text, callback_data=f"rate:{key}:{right}") for text, right in rate]
    return InlineKeyboardMarkup([row])


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


async def show_typing(message: Message) -> None:
    """ "typing..." only when the verdict is slow: a verdict in milliseconds needs no indicator."""
    await asyncio.sleep(TYPING_AFTER_S)
    await message.reply_chat_action(ChatAction.TYPING)


async def why_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "Why?" button under a verdict: the words that pushed it up or down."""
    query = update.callback_query
    d = deps(context)
    if not await within_the_limit(d, query, user_id_of(update)):
        return
    await query.answer()
    chat_id = update.effective_chat.id
    key = (query.data or "").partition(":")[2]
    try:
        text = await asyncio.to_thread(client.kept_review, d.connection, key)
        if text is None:
            await context.bot.send_message(chat_id, replies.WHY_EXPIRED)
            return
        job = await asyncio.to_thread(client.submit_explain, d.connection, text, owner_of(d, update))
        result = await client.wait_result_async(d.aconnection, job.id, d.settings.score_timeout_s)
    except SentibotError as exc:
        await context.bot.send_message(chat_id, replies.NOT_EXPLAINED.format(why=sentence_for(exc)))
        return
    await context.bot.send_message(chat_id, replies.explanation(result))
    await remove_buttons(query, "why:")  # answered: the button has done its job


async def rate_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍/👎 under a verdict: store the review with the label the user says is right, thank them once."""
    query = update.callback_query
    d = deps(context)
    user_id = user_id_of(update)
    _, key, label = ((query.data or "") + "::").split(":")[:3]
    if label not in feedback.LABELS:  # not a button this bot made
        await query.answer(replies.FEEDBACK_UNKNOWN)
        return
    if not await within_the_limit(d, query, user_id):
        return
    try:
        kept = await asyncio.to_thread(client.kept_verdict, d.connection, key)
        if kept is None:
            await query.answer()
            await context.bot.send_message(update.effective_chat.id, replies.FEEDBACK_EXPIRED)
            await remove_buttons(query, "rate:")
            return
        owner = owner_of(d, update)
        if kept.get("by") not in (None, owner):  # in a group, someone else's verdict: not theirs to rate
            await query.answer(replies.FEEDBACK_NOT_YOURS)
            return
        new = await asyncio.to_thread(
            feedback.record,
            d.connection,
            owner,
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
        await context.bot.send_message(update.effective_chat.id, replies.NOT_STORED.format(why=sentence_for(exc)))
        return
    await query.answer(replies.FEEDBACK_THANKS if new else replies.FEEDBACK_AGAIN)
    await remove_buttons(query, "rate:")
