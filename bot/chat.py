"""What every handler shares: its dependencies, who may do what, and whether a message is for the bot.

Handlers live one topic a module (reviews, files, training, info); each reads
``update.effective_message`` and answers with a sentence from bot/replies.py. Errors from the queue
side (Redis down, timeout, job failed) are SentibotErrors: their message is the reply, so nobody
ever gets silence or a traceback. Blocking calls into worker.client run in threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass

import redis
import redis.asyncio
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.flood import SendSkipped
from bot.ratelimit import RateLimiter
from common.settings import Settings
from worker import identity

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """What the handlers need, built once in app.py and kept in bot_data."""

    settings: Settings
    connection: redis.Redis  # short calls, run in threads
    aconnection: redis.asyncio.Redis  # waiting for verdicts on the event loop, no thread held
    limiter: RateLimiter
    user_key: bytes = b""  # the key of user hashes (worker/identity.py): never in Redis


def deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    """The shared dependencies."""
    return context.bot_data["deps"]


def user_id_of(update: Update) -> int:
    """The sender's id (0 for a channel post, which has none)."""
    return update.effective_user.id if update.effective_user else 0


def owner_of(d: Deps, update: Update) -> str:
    """The sender's keyed hash: what Redis knows of who sent a review, rated it or asks to be forgotten."""
    return identity.user_hash(d.user_key, user_id_of(update))


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the sender may retrain and cancel."""
    user = update.effective_user
    return user is not None and user.id in deps(context).settings.admin_ids


async def refused_unless_admin(update: Update, context: ContextTypes.DEFAULT_TYPE, action: str) -> bool:
    """Tell a non-admin that only admins may ``action`` (True); admins pass (False)."""
    if is_admin(update, context):
        return False
    await update.effective_message.reply_text(replies.admins_only(action))
    return True


def well_formed(text: str) -> str:
    """The text with lone UTF-16 surrogates (JSON can carry them, UTF-8 cannot) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message answers one of the bot's own."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def for_the_bot(message: Message, bot_id: int) -> bool:
    """The one rule for "is this meant for me?": anything in a private chat; in a group, a reply to the bot
    (a text may also name the bot: :func:`addressed_text`)."""
    return message.chat.type == ChatType.PRIVATE or replies_to_bot(message, bot_id)


def addressed_text(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The review in a message, or None when a group message is not meant for the bot."""
    text = well_formed(message.text or "")
    mention = f"@{bot_username}"
    if message.chat.type != ChatType.PRIVATE and mention.lower() in text.lower():
        start = text.lower().index(mention.lower())
        return (text[:start] + text[start + len(mention) :]).strip()
    return text if for_the_bot(message, bot_id) else None


async def over_the_limit(d: Deps, message: Message, user_id: int) -> bool:
    """Count the message against the user's rate limit; past it, say when to try again (True)."""
    if d.limiter.allow(user_id):
        return False
    metrics.RATE_LIMITED.inc()
    await message.reply_text(replies.slow_down(d.settings.rate_limit_per_minute, d.limiter.retry_after(user_id)))
    return True


async def within_the_limit(d: Deps, query, user_id: int) -> bool:
    """A button tap (Why?, a rating) counts against the same per-user limit as a review; past it, the tap
    is answered with when to try again and nothing is queued (False)."""
    if d.limiter.allow(user_id):
        return True
    metrics.RATE_LIMITED.inc()
    await query.answer(replies.slow_down_short(d.limiter.retry_after(user_id)))
    return False


def cosmetic(context: ContextTypes.DEFAULT_TYPE, call: Coroutine, what: str) -> asyncio.Task:
    """Run a Telegram call the reply does not depend on (typing indicator...) beside it: its failure,
    a 429 included, is logged and never costs the user the reply."""

    async def guarded() -> None:
        try:
            await call
        except SendSkipped:
            pass  # flood control had no free slot: "typing..." would only have delayed the replies
        except TelegramError as exc:
            log.info("%s failed: %s", what, exc)

    return context.application.create_task(guarded(), name=what)


def without_buttons(markup: InlineKeyboardMarkup | None, prefix: str) -> InlineKeyboardMarkup | None:
    """The message's buttons minus those whose data starts with ``prefix`` (None when none are left)."""
    if markup is None:
        return None
    rows = [[b for b in row if not (b.callback_data or "").startswith(prefix)] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


async def remove_buttons(query, prefix: str) -> None:
    """Take the used buttons off the message; the others stay."""
    markup = getattr(query.message, "reply_markup", None)
    try:
        await query.edit_message_reply_markup(reply_markup=without_buttons(markup, prefix))
    except TelegramError as exc:  # too old to edit, or already edited by a double tap: nothing lost
        log.info("%s buttons not removed: %s", prefix, exc)
