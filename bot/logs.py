"""The bot token never reaches a log line: redaction in the formatter, after everything is rendered.

A filter that reads ``record.getMessage()`` misses the exception text and the stack (PTB's
``InvalidToken`` says "The token `...` was rejected"), httpx puts the token in every request URL,
and PTB logs setWebhook's parameters (the webhook secret among them) at DEBUG.
:class:`RedactingFormatter` redacts the finished line: message, arguments, exception and stack text
alike.
"""

from __future__ import annotations

import logging

from telegram.error import InvalidToken

REDACTED = "<token>"


class RedactingFormatter(logging.Formatter):
    """Formats as ``inner`` does, then replaces every occurrence of each secret by its placeholder."""

    def __init__(self, secrets: dict[str, str], inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.secrets = {secret: shown for secret, shown in secrets.items() if secret}
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret, shown in self.secrets.items():
            text = text.replace(secret, shown)
        if self.secrets:
            record.exc_text = None  # the cached, unredacted exception text must not reach another handler
        return text


class ShortInvalidToken(logging.Filter):
    """PTB logs a rejected token with its whole traceback before raising; the CLI says it in one sentence."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InvalidToken):
            record.exc_info = None
            record.exc_text = None
            record.msg, record.args = "Telegram rejected the bot token (see below)", None
        return True


def install_redaction(token: str, level: str = "INFO", webhook_secret: str = "") -> None:
    """Redact the token (and the webhook secret: PTB logs setWebhook's parameters at DEBUG) in the output
    of every root handler.

    httpx logs every request URL (token included) at INFO: one line per poll, so it is kept to
    warnings unless LOG_LEVEL is DEBUG; the token is redacted either way.
    """
    for handler in logging.getLogger().handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            current = current.inner
        handler.setFormatter(RedactingFormatter({token: REDACTED, webhook_secret: "<webhook secret>"}, current))
        handler.addFilter(ShortInvalidToken())
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
