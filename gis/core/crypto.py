"""ID numbers at rest: a column type that stores ciphertext, keys from the environment, rotation without downtime."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from gis.core.errors import SetupRequired

# PIPL counts an ID number as sensitive personal information: stored encrypted, shown masked. The
# keys come from GRIDGOV_PERSONAL_KEYS, newest first, comma-separated (Fernet keys: AES-128-CBC with
# an HMAC-SHA256, a timestamp and a version). New values are written with the first key; every key
# still reads. Rotation: put a new key in front, run `reencrypt` over the rows (or let them be
# rewritten as they change), then drop the old key. Lookups by ID use a blind index (`blind_index`):
# an HMAC of the normalised number under a key of its own, so equality works without decrypting.
KEYS_ENV = "GRIDGOV_PERSONAL_KEYS"
INDEX_KEY_ENV = "GRIDGOV_PERSONAL_INDEX_KEY"


def new_key() -> str:
    """A fresh key to put in front of GRIDGOV_PERSONAL_KEYS."""
    return Fernet.generate_key().decode()


def keyring(keys: Sequence[str] | None = None) -> MultiFernet:
    """The keys to encrypt with (the first) and decrypt with (any): given, or from the environment."""
    raw = list(keys) if keys is not None else [k for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    if not raw:
        raise SetupRequired("No key for personal data",
                            f"Set {KEYS_ENV} to a key (python -c 'from gis.core.crypto import new_key; "
                            "print(new_key())'); keep it in the district's secret store and with the backups.")
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in raw])
    except ValueError as exc:
        raise SetupRequired("Bad personal-data key", f"{KEYS_ENV} holds a value that is not a Fernet key.") from exc


def encrypt(value: str, keys: MultiFernet | None = None) -> str:
    """Ciphertext of `value` under the newest key."""
    return (keys or keyring()).encrypt(value.encode()).decode()


def decrypt(token: str, keys: MultiFernet | None = None) -> str:
    """The plain value of `token`, under whichever key of the ring wrote it."""
    try:
        return (keys or keyring()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SetupRequired("Personal data unreadable",
                            f"No key in {KEYS_ENV} decrypts this value: was an old key dropped too early?") from exc


def reencrypt(token: str, keys: MultiFernet | None = None) -> str:
    """`token` written again under the newest key (a step of key rotation)."""
    return (keys or keyring()).rotate(token.encode()).decode()


def blind_index(value: str, key: str | None = None) -> str:
    """An HMAC-SHA256 of the normalised ID number, for lookups by equality without decrypting."""
    secret = key or os.environ.get(INDEX_KEY_ENV)
    if not secret:
        raise SetupRequired("No blind-index key", f"Set {INDEX_KEY_ENV} (any long random text; never rotate it "
                            "without rebuilding the index).")
    digest = hmac.new(secret.encode(), value.strip().upper().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class EncryptedText(TypeDecorator):
    """A text column stored as Fernet ciphertext: Python sees the plain value, the database never does."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Encrypt on the way in."""
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value, dialect):
        """Decrypt on the way out."""
        return None if value is None else decrypt(value)
