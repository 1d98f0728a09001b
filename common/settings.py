"""Every setting of every sentibot process, read from the environment in one place.

Each ``main()`` calls :meth:`Settings.from_env` once and passes the result down; nothing else
reads ``os.environ``. A malformed value stops the program with one sentence naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from common.errors import SentibotError


class SettingsError(SentibotError, ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(environ: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}.")
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}.") from None
    if not 0 <= value <= 1:
        raise SettingsError(f"{name} must be between 0 and 1, got {value}.")
    return value


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    port = _int(environ, name, default)
    if port > 65535:
        raise SettingsError(f"{name} must be a TCP port (1-65535), got {port}.")
    return port


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "yes", "true", "on"):
        return True
    if raw in ("0", "no", "false", "off"):
        return False
    raise SettingsError(f"{name} must be yes or no, got {raw!r}.")


def _ids(environ: Mapping[str, str], name: str) -> frozenset[int]:
    raw = environ.get(name, "").strip()
    if not raw:
        return frozenset()
    try:
        return frozenset(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"{name} must be comma-separated Telegram user ids, got {raw!r}.") from None


SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook's secret_token


def _webhook_url(environ: Mapping[str, str]) -> str:
    raw = environ.get("WEBHOOK_URL", "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingsError(f"WEBHOOK_URL must be the public https:// URL Telegram posts updates to, got {raw!r}.")
    return raw


def _webhook_secret(environ: Mapping[str, str]) -> str:
    raw = environ.get("WEBHOOK_SECRET", "").strip()
    if raw and not SECRET_TOKEN.fullmatch(raw):
        raise SettingsError("WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule).")
    return raw


@dataclass(frozen=True)
class Settings:
    """Typed settings; defaults are what a single-machine install wants."""

    home: Path = field(
        default_factory=lambda: Path("~/.sentibot").expanduser()
    )  # SENTIBOT_HOME: caches, bundles, redis data
    imdb_data: str = ""  # IMDB_DATA: aclImdb folder or .tar.gz; empty = Keras's download
    redis_url: str = ""  # REDIS_URL: empty = `sentibot up` starts a private redis-server
    telegram_token: str = ""  # TELEGRAM_TOKEN: from @BotFather; empty = terminal chat in `sentibot up`
    telegram_api_url: str = "https://api.telegram.org/bot"  # TELEGRAM_API_URL: Bot API base, before the token
    telegram_file_url: str = "https://api.telegram.org/file/bot"  # TELEGRAM_FILE_URL
    admin_ids: frozenset[int] = frozenset()  # ADMIN_IDS: user ids allowed to /retrain and /cancel
    rate_limit_per_minute: int = 30  # RATE_LIMIT_PER_MINUTE: messages per user per minute; 0 = off
    score_timeout_s: int = 8  # SCORE_TIMEOUT: seconds the bot waits for a verdict before saying so
    train_timeout_s: int = 3600  # TRAIN_TIMEOUT: seconds before a training job is killed
    min_accuracy: float = 0.80  # PROMOTE_MIN_ACCURACY: test accuracy a new model needs to go live
    max_accuracy_drop: float = 0.01  # PROMOTE_MAX_DROP: how far below the live model it may be (fraction)
    default_arch: str = "blend"  # DEFAULT_ARCH: trained when none is named; checked against model/ by the CLI
    log_level: str = "INFO"  # LOG_LEVEL
    mixed_low: float = 0.4  # MIXED_LOW: scores from here...
    mixed_high: float = 0.6  # MIXED_HIGH: ...to here are answered "Mixed / not sure" (README: Using it)
    max_file_rows: int = 100_000  # MAX_FILE_ROWS: rows of an uploaded .txt/.csv scored at most
    file_pickup_timeout_s: int = 60  # FILE_PICKUP_TIMEOUT: seconds a queued file may see no live file worker
    file_stall_timeout_s: int = 120  # FILE_STALL_TIMEOUT: seconds a file's worker may make no progress
    train_on_first_start: bool = True  # TRAIN_ON_FIRST_START: a training worker trains a model when none is live
    metrics_port: int = 0  # METRICS_PORT: Prometheus metrics of `sentibot worker`/`bot` on this port; 0 = off
    metrics_address: str = "127.0.0.1"  # METRICS_ADDRESS: where they listen (compose: 0.0.0.0 in the container)
    dashboard_port: int = 9181  # DASHBOARD_PORT: rq-dashboard of `sentibot up --dashboard`, on 127.0.0.1
    dashboard_user: str = "admin"  # DASHBOARD_USER: its basic-auth user
    dashboard_password: str = ""  # DASHBOARD_PASSWORD: its basic-auth password; empty = a new one each start
    feedback_per_day: int = 200  # FEEDBACK_PER_DAY: 👍/👎 reviews one user may store a day
    sends_per_second: int = 30  # TELEGRAM_SENDS_PER_SECOND: the bot's messages and edits, all chats; 0 = unpaced
    webhook_url: str = ""  # WEBHOOK_URL: public URL Telegram posts updates to; empty = long polling
    webhook_port: int = 8443  # WEBHOOK_PORT: where the bot's webhook server listens
    webhook_listen: str = "127.0.0.1"  # WEBHOOK_LISTEN: its address (compose: 0.0.0.0, behind the proxy)
    webhook_secret: str = field(default="", repr=False)  # WEBHOOK_SECRET: required with WEBHOOK_URL; else 403
    user_hash_key: str = field(default="", repr=False)  # USER_HASH_KEY: key of user hashes; empty = a file in home
    redis_maxmemory_mb: int = 2048  # REDIS_MAXMEMORY: MB the private Redis may use; past it, new work is refused

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; raise :class:`SettingsError` naming the first bad variable."""
        env = os.environ if environ is None else environ
        defaults = cls()
        home = env.get("SENTIBOT_HOME", "").strip()
        return cls(
            home=Path(home).expanduser() if home else defaults.home,
            imdb_data=env.get("IMDB_DATA", "").strip(),
            redis_url=env.get("REDIS_URL", "").strip(),
            telegram_token=env.get("TELEGRAM_TOKEN", "").strip(),
            telegram_api_url=env.get("TELEGRAM_API_URL", "").strip() or defaults.telegram_api_url,
            telegram_file_url=env.get("TELEGRAM_FILE_URL", "").strip() or defaults.telegram_file_url,
            admin_ids=_ids(env, "ADMIN_IDS"),
            rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute),
            score_timeout_s=_int(env, "SCORE_TIMEOUT", defaults.score_timeout_s, low=1),
            train_timeout_s=_int(env, "TRAIN_TIMEOUT", defaults.train_timeout_s, low=60),
            min_accuracy=_float(env, "PROMOTE_MIN_ACCURACY", defaults.min_accuracy),
            max_accuracy_drop=_float(env, "PROMOTE_MAX_DROP", defaults.max_accuracy_drop),
            default_arch=env.get("DEFAULT_ARCH", "").strip() or defaults.default_arch,
            log_level=env.get("LOG_LEVEL", "").strip().upper() or defaults.log_level,
            mixed_low=_float(env, "MIXED_LOW", defaults.mixed_low),
            mixed_high=_float(env, "MIXED_HIGH", defaults.mixed_high),
            max_file_rows=_int(env, "MAX_FILE_ROWS", defaults.max_file_rows, low=1),
            file_pickup_timeout_s=_int(env, "FILE_PICKUP_TIMEOUT", defaults.file_pickup_timeout_s, low=1),
            file_stall_timeout_s=_int(env, "FILE_STALL_TIMEOUT", defaults.file_stall_timeout_s, low=1),
            train_on_first_start=_bool(env, "TRAIN_ON_FIRST_START", defaults.train_on_first_start),
            metrics_port=_port(env, "METRICS_PORT", defaults.metrics_port),
            metrics_address=env.get("METRICS_ADDRESS", "").strip() or defaults.metrics_address,
            dashboard_port=_port(env, "DASHBOARD_PORT", defaults.dashboard_port) or defaults.dashboard_port,
            dashboard_user=env.get("DASHBOARD_USER", "").strip() or defaults.dashboard_user,
            dashboard_password=env.get("DASHBOARD_PASSWORD", "").strip(),
            feedback_per_day=_int(env, "FEEDBACK_PER_DAY", defaults.feedback_per_day),
            sends_per_second=_int(env, "TELEGRAM_SENDS_PER_SECOND", defaults.sends_per_second),
            webhook_url=_webhook_url(env),
            webhook_port=_port(env, "WEBHOOK_PORT", defaults.webhook_port) or defaults.webhook_port,
            webhook_listen=env.get("WEBHOOK_LISTEN", "").strip() or defaults.webhook_listen,
            webhook_secret=_webhook_secret(env),
            user_hash_key=env.get("USER_HASH_KEY", "").strip(),
            redis_maxmemory_mb=_int(env, "REDIS_MAXMEMORY", defaults.redis_maxmemory_mb, low=64),
        )

    def __post_init__(self) -> None:
        if not self.mixed_low <= 0.5 <= self.mixed_high:
            raise SettingsError(
                f"MIXED_LOW must be at most 0.5 and MIXED_HIGH at least 0.5 "
                f"(got {self.mixed_low} and {self.mixed_high})."
            )
        if self.webhook_url and not self.webhook_secret:
            raise SettingsError(
                "WEBHOOK_SECRET must be set with WEBHOOK_URL: Telegram sends it with every update, and requests "
                "without it are refused (make one with `openssl rand -hex 32`)."
            )

    @property
    def mixed_band(self) -> tuple[float, float]:
        """Scores answered "Mixed / not sure" instead of a verdict."""
        return self.mixed_low, self.mixed_high

    @property
    def bundle_dir(self) -> Path:
        """Where locally trained and cached bundles live."""
        return self.home / "bundles"

    @property
    def cache_dir(self) -> Path:
        """Where encoded datasets are cached."""
        return self.home / "cache"
