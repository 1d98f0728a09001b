"""Who a stored thing belongs to, without storing who: a keyed hash of the Telegram user id.

Telegram ids are small (ten digits): a plain or salted hash whose salt sits in the same Redis is
undone by trying every id in seconds. The key here never enters Redis: it comes from the
``USER_HASH_KEY`` secret, or a file made on first start under ``SENTIBOT_HOME`` (mode 0600). The bot
is the only process that hashes ids (compose gives it its own home), so one key is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from common.settings import Settings

KEY_FILE = "user-hash.key"


def load_key(settings: Settings) -> bytes:
    """The deployment's key: USER_HASH_KEY if set, else SENTIBOT_HOME/user-hash.key, made on first start."""
    if settings.user_hash_key:
        return settings.user_hash_key.encode()
    path = Path(settings.home) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def user_hash(key: bytes, user_id: int) -> str:
    """HMAC-SHA256 of the user id under the deployment's key: stable (so /forget finds a user's things),
    useless without the key."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]
