"""Inline mode: ``@yourbot <review>`` in any chat, without opening the bot, answered with one result.

The result shows the verdict as its title and the confidence as its description; choosing it sends
"Positive (94%): <the review>" into that chat. Telegram drops a query not answered within about 10 s,
so the verdict is waited for at most INLINE_WAIT_S; the answer never waits behind a burst of replies
(an inline answer has no chat, so flood control does not hold it back). Queries count against the
same per-user rate limit as reviews. Switch it on with @BotFather's /setinline (README: Using it).
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.ext import ContextTypes

from bot import metrics, replies
from bot.chat import deps, owner_of, well_formed
from bot.delivery import owed
from bot.reviews import why_not_scored
from common.errors import SentibotError
from model.encoding import tokenize
from worker import client

log = logging.getLogger(__name__)

MIN_CHARS = 3  # shorter queries (the first letters typed) get the hint, not a verdict
INLINE_WAIT_S = 5.0  # at most this long for the verdict (or SCORE_TIMEOUT if shorter): Telegram waits ~10 s
CACHE_S = 10  # Telegram may reuse an answer for the same user and text this long (is_personal)
HINT_ID = "hint"


async def answer_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers an inline query with the verdict, a hint for an empty or too-short query, or why not."""
    query = update.inline_query
    started = time.monotonic()
    d = deps(context)
    text = well_formed(query.query).strip()
    about = f"the answer to inline query {query.id}"
    if len(text) < MIN_CHARS or not tokenize(text):
        hint = article(HINT_ID, replies.INLINE_HINT_TITLE, replies.INLINE_HINT, replies.INLINE_HINT_MESSAGE)
        await owed(query.answer([hint], cache_time=CACHE_S, is_personal=True), started + INLINE_WAIT_S, about)
        return
    if not d.limiter.allow(query.from_user.id):
        metrics.RATE_LIMITED.inc()
        title = replies.slow_down_short(d.limiter.retry_after(query.from_user.id))
        limit = replies.INLINE_LIMIT.format(per_minute=d.settings.rate_limit_per_minute)
        limited = article("limited", title, limit, title)
        await owed(query.answer([limited], cache_time=0, is_personal=True), started + INLINE_WAIT_S, about)
        return
    wait_s = min(INLINE_WAIT_S, d.settings.score_timeout_s)
    try:
        owner = owner_of(d, update)  # inline texts are the user's too: /forget finds them
        job = await asyncio.wait_for(asyncio.to_thread(client.submit_review, d.connection, text, owner), wait_s)
        result = await client.wait_result_async(d.aconnection, job.id, max(0.1, started + wait_s - time.monotonic()))
    except (TimeoutError, SentibotError) as exc:
        metrics.ERROR_REPLIES.inc()
        reason = replies.QUEUE_SLOW if isinstance(exc, TimeoutError) else await why_not_scored(d, exc)
        failed = article("failed", replies.INLINE_NOT_SCORED, reason, replies.NOT_SCORED.format(why=reason))
        await owed(query.answer([failed], cache_time=0, is_personal=True), started + INLINE_WAIT_S, about)
        return
    title, description = replies.inline_title(result, d.settings.mixed_band)
    verdict = article(job.id, title, description, replies.inline_message(result, text, d.settings.mixed_band))
    await owed(query.answer([verdict], cache_time=CACHE_S, is_personal=True), started + INLINE_WAIT_S, about)


def article(result_id: str, title: str, description: str, message: str) -> InlineQueryResultArticle:
    """One inline result: what the list shows, and the message choosing it sends."""
    return InlineQueryResultArticle(
        id=result_id, title=title, description=description, input_message_content=InputTextMessageContent(message)
    )


async def own_result_posted(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A message someone sent through this bot's inline mode (into its own chat, say) already carries its
    verdict: it is not a new review, and scoring it again would only echo it."""
