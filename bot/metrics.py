"""Prometheus metrics of the bot: updates handled by kind, replies that were errors, rate-limited users, and
what Telegram's flood limits did (429s, replies sent late or never).

`sentibot bot --metrics-port N` (or METRICS_PORT) serves them (worker.metrics.serve); off when unset. Names start with
``sentibot_``. The service-wide gauges (queue length, workers, live model) come from the workers.
"""

from __future__ import annotations

from prometheus_client import Counter
from telegram import Update
from telegram.ext import ContextTypes

UPDATES = Counter("sentibot_updates", "Telegram updates the bot handled, by kind", ["kind"])
ERROR_REPLIES = Counter("sentibot_error_replies", "Replies that told the user something went wrong")
RATE_LIMITED = Counter("sentibot_rate_limited", "Messages refused by the per-user rate limit")
TELEGRAM_429 = Counter("sentibot_telegram_429", "Sends Telegram refused with 429 Too Many Requests (then retried)")
LATE_REPLIES = Counter("sentibot_late_replies", "Replies to a review or inline query sent after their deadline")
UNSENT_REPLIES = Counter("sentibot_unsent_replies", "Replies to a review or inline query Telegram never took")


def kind_of(update: Update) -> str:
    """review, command, document, button, inline, other_message or other."""
    if update.callback_query is not None:
        return "button"
    if update.inline_query is not None:
        return "inline"
    message = update.effective_message
    if message is None:
        return "other"
    if message.text is not None:
        return "command" if message.text.startswith("/") else "review"
    if message.document is not None:
        return "document"
    return "other_message"


async def count_update(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler (group -1) and never stops them."""
    if isinstance(update, Update):
        UPDATES.labels(kind_of(update)).inc()
