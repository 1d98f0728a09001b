"""Builds the Telegram Application: handlers in routing order, the error layer, start-up hooks."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import redis
from telegram import BotCommand, Update
from telegram.error import InvalidToken
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import files, info, inline, metrics, replies, reviews, training, webhook
from bot.chat import Deps
from bot.errors import on_error
from bot.flood import FloodControl
from bot.logs import install_redaction
from bot.ratelimit import RateLimiter
from common.settings import Settings, SettingsError
from worker import client, health, identity
from worker import metrics as worker_metrics
from worker.connection import connect

log = logging.getLogger(__name__)


TELEGRAM_CONNECTIONS = 32  # HTTP connections to the Bot API for replies (getUpdates has its own)
ENQUEUE_THREADS = 32  # short Redis calls (enqueue, status) from many users at once


async def post_init(application: Application) -> None:
    """Registers the command menu with Telegram; sizes the thread pool for many users' short Redis calls;
    starts the health beat; tells the inline-result filter who the bot is."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(ENQUEUE_THREADS, "redis-call"))
    application.bot_data["own_results"].add_bot_ids(application.bot.id)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in replies.COMMANDS])
    application.job_queue.run_repeating(health_beat, interval=health.BOT_BEAT_S, first=0, name="health")


async def health_beat(context: ContextTypes.DEFAULT_TYPE) -> None:
    """`sentibot health bot` is true while this runs: updates come in (the update loop polls, or the webhook
    server listens) and Redis answers."""
    updater = context.application.updater
    if updater is None or not updater.running:
        return
    try:
        await asyncio.to_thread(health.mark_bot_alive, context.bot_data["deps"].connection)
    except redis.exceptions.RedisError as exc:
        log.info("health beat skipped: Redis does not answer (%s)", type(exc).__name__)


def build_application(settings: Settings) -> Application:
    """The bot, ready for run_polling() or run_webhook()."""
    if not settings.telegram_token:
        raise SettingsError("TELEGRAM_TOKEN is not set: get a token from @BotFather and put it in .env.")
    application = (
        Application.builder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .concurrent_updates(True)
        # httpcore checks every pooled connection on each request: a pool of PTB's default 256 costs
        # seconds of CPU when 200 replies go out at once; 32 connections with a queue is faster.
        .connection_pool_size(TELEGRAM_CONNECTIONS)
        .pool_timeout(30)
        .rate_limiter(FloodControl(settings.sends_per_second))
        .post_init(post_init)
        .build()
    )
    application.bot_data["deps"] = Deps(
        settings=settings,
        connection=connect(settings.redis_url),
        aconnection=client.connect_async(settings.redis_url),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        user_key=identity.load_key(settings),
    )
    own_results = application.bot_data["own_results"] = filters.ViaBot(allow_empty=False)  # id: post_init
    application.add_handler(TypeHandler(Update, metrics.count_update), group=-1)
    application.add_handler(CommandHandler("start", info.start))
    application.add_handler(CommandHandler("help", info.help_command))
    application.add_handler(CommandHandler("model", info.model_command))
    application.add_handler(CommandHandler("status", info.status_command))
    application.add_handler(CommandHandler("retrain", training.retrain))
    application.add_handler(CommandHandler("cancel", training.cancel))
    application.add_handler(CommandHandler("forget", info.forget_command))
    application.add_handler(CommandHandler("feedback", info.feedback_command))
    application.add_handler(CallbackQueryHandler(training.cancel_answer, pattern=r"^cancel:"))
    application.add_handler(CallbackQueryHandler(reviews.why_answer, pattern=r"^why:"))
    application.add_handler(CallbackQueryHandler(reviews.rate_answer, pattern=r"^rate:"))
    application.add_handler(InlineQueryHandler(inline.answer_inline))
    application.add_handler(MessageHandler(own_results, inline.own_result_posted))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, reviews.score_review))
    application.add_handler(MessageHandler(filters.COMMAND, info.unknown_command))
    application.add_handler(MessageHandler(filters.Document.ALL, files.score_file))
    application.add_handler(MessageHandler(filters.ALL, info.not_text))
    application.add_error_handler(on_error)
    return application


def run(settings: Settings) -> None:
    """Take updates until stopped: from Telegram's webhook posts with WEBHOOK_URL, else by long polling
    (which deletes any webhook first, so switching back needs nothing else)."""
    install_redaction(settings.telegram_token, settings.log_level, settings.webhook_secret)
    if settings.metrics_port:
        worker_metrics.serve(settings.metrics_port, settings.metrics_address)
    application = build_application(settings)
    try:
        if settings.webhook_url:
            webhook.run(application, settings)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:  # PTB's message and traceback carry the token itself
        raise SettingsError(
            f"Telegram rejected TELEGRAM_TOKEN (at {settings.telegram_api_url.rstrip('/')}...): check the token "
            "with @BotFather, and TELEGRAM_API_URL if you set one."
        ) from None
