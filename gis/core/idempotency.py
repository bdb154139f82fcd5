"""Idempotency keys: the one a client sends with a write so that a resend after a lost answer is the same write."""
from __future__ import annotations

from gis.core.errors import InvalidInput

IDEMPOTENCY_KEY_MAX = 128


def idempotency_key(key: str | None) -> str | None:
    """An Idempotency-Key header as stored (None when absent); InvalidInput when it is not printable ASCII."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable() or not key.isascii():
        raise InvalidInput("Invalid Idempotency-Key", f"Use 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters, "
                           "e.g. a UUID generated once per report on the phone.")
    return key
