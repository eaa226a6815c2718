from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from backend.crypto import InvalidToken, decrypt, encrypt
from backend.settings import Settings


def test_round_trip_and_tamper_detection() -> None:
    settings = Settings(_env_file=None, secret_key="s" * 40)  # type: ignore[call-arg]
    token = encrypt(settings, b"APP_USR-123")
    assert b"APP_USR" not in token.encode()
    assert decrypt(settings, token) == b"APP_USR-123"
    with pytest.raises(InvalidToken):
        decrypt(settings, token[:-4] + "AAAA")
    other = Settings(_env_file=None, secret_key="t" * 40)  # type: ignore[call-arg]
    with pytest.raises(InvalidToken):
        decrypt(other, token)


def test_rotation_keeps_old_tokens_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = Settings(_env_file=None, encryption_key=old)  # type: ignore[call-arg]
    token = encrypt(before, b"secret")
    after = Settings(_env_file=None, encryption_key=f"{new},{old}")  # type: ignore[call-arg]
    assert decrypt(after, token) == b"secret"
    assert decrypt(Settings(_env_file=None, encryption_key=new), encrypt(after, b"x")) == b"x"  # type: ignore[call-arg]
