"""The bot's error layer: log everything, tell the person one sentence, never a traceback."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.metrics import ERROR_REPLIES
from common.errors import SentibotError

log = logging.getLogger(__name__)
GENERIC = "Sorry, something went wrong on my side. Please try again in a moment."


def sentence_for(error: BaseException | None) -> str:
    """Our own errors carry their sentence; anything else gets the generic one."""
    if isinstance(error, SentibotError):
        return str(error)
    return GENERIC


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback, then answer the user if there is someone to answer."""
    log.error("update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        ERROR_REPLIES.inc()
        try:
            await update.effective_message.reply_text(sentence_for(context.error))
        except Exception:
            log.warning("could not send the error reply", exc_info=True)
