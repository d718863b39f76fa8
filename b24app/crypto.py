"""Encryption at rest for tokens: Fernet, with MultiFernet so keys can be rotated.

FERNET_KEYS holds comma-separated keys, newest first: new values are encrypted with the first,
and every listed key still decrypts. Without it (development only) a key is derived from
SECRET_KEY; production refuses to start without FERNET_KEYS, and any process refuses to start
with a key that is not a Fernet key (see settings; `check --deploy` says the same).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def fernet_keys_problem(keys: list[str]) -> str | None:
    """What is wrong with FERNET_KEYS, naming the key by position only: a key is never printed."""
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
            return (
                f"FERNET_KEYS: key {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as Fernet.generate_key() makes)"
            )
    return None


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        digest = hashlib.sha256(f"dealdesk-token-key:{secret_key}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS), settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("A stored secret cannot be decrypted with the configured FERNET_KEYS") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (for a key rotation run)."""
    return fernet().rotate(token.encode()).decode()
