"""Encryption of secrets kept in the database (gym payment credentials, CFDI certificates).

Fernet (AES-128-CBC + HMAC-SHA256) from the `cryptography` package. The key comes from
DATA_ENCRYPTION_KEY (comma-separated Fernet keys: the first encrypts, all decrypt, so keys
can be rotated); when it is empty one is derived from SECRET_KEY, so changing SECRET_KEY
then makes stored secrets unreadable.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.settings import Settings


class DecryptionFailed(Exception):
    """The ciphertext was not made with any configured key, or was altered."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        configured = [k.strip() for k in settings.data_encryption_key.split(",") if k.strip()]
        if configured:
            return cls([k.encode() for k in configured])
        return cls([derive_key(settings.secret_key)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise DecryptionFailed("cannot decrypt with the configured keys") from exc


def derive_key(secret: str) -> bytes:
    """A Fernet key from an arbitrary secret (domain-separated SHA-256)."""
    digest = hashlib.sha256(b"gogym-data-encryption:" + secret.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest)


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")
