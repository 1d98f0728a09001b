"""Webhook mode: Telegram posts each update to WEBHOOK_URL instead of the bot polling for it.

PTB's webhook server (the ``python-telegram-bot[webhooks]`` extra, tornado) listens on
WEBHOOK_LISTEN:WEBHOOK_PORT at the URL's path, plain HTTP: TLS is the reverse proxy's job (compose's
``webhook`` profile). At start it calls setWebhook with WEBHOOK_SECRET as ``secret_token``; Telegram
then sends that secret in the X-Telegram-Bot-Api-Secret-Token header of every post, and any request
without it is answered 403 and never processed. Several replicas behind one load balancer all set the
same URL and secret, so any of them may take any update.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from common.errors import SentibotError
from common.settings import Settings

log = logging.getLogger(__name__)

BOOTSTRAP_RETRIES = 5  # setWebhook tries at start (Telegram answers 429 when replicas set it at the same instant)


def url_path(webhook_url: str) -> str:
    """The path the server listens on: the public URL's, so a proxy can pass requests through unchanged."""
    return urlsplit(webhook_url).path.strip("/")


def run(application: Application, settings: Settings) -> None:
    """Serve Telegram's posts until stopped; a port that cannot be had is one sentence, not a traceback."""
    log.info(
        "webhook mode: listening on %s:%d/%s for posts to %s",
        settings.webhook_listen,
        settings.webhook_port,
        url_path(settings.webhook_url),
        settings.webhook_url,
    )
    try:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=url_path(settings.webhook_url),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            bootstrap_retries=BOOTSTRAP_RETRIES,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SentibotError(
            f"Could not listen for webhooks on {settings.webhook_listen}:{settings.webhook_port} ({reason}): "
            "choose another WEBHOOK_PORT."
        ) from None
