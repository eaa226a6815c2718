"""Secrets at rest (provider tokens, CSD private keys and passwords): Fernet encryption.

The key is `ENCRYPTION_KEY` (a Fernet key) when set, else one derived from `SECRET_KEY`.
`ENCRYPTION_KEY` may list several comma-separated keys: the first encrypts, all decrypt,
so keys can be rotated without re-encrypting everything at once.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.settings import Settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


def _fernet(settings: Settings) -> MultiFernet:
    keys = [k.strip() for k in settings.encryption_key.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"gogym-at-rest:" + settings.secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode("ascii")]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(settings: Settings, data: bytes) -> str:
    return _fernet(settings).encrypt(data).decode("ascii")


def decrypt(settings: Settings, token: str) -> bytes:
    """Raises InvalidToken when the data was tampered with or the key is wrong."""
    return _fernet(settings).decrypt(token.encode("ascii"))
