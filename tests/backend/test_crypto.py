"""Secrets stored in the database: Fernet round trips, key rotation, tampering."""

from __future__ import annotations

import pytest

from backend.crypto import DecryptionFailed, SecretBox, derive_key, new_key
from backend.settings import Settings


def test_round_trip_and_no_plaintext() -> None:
    box = SecretBox([new_key().encode()])
    token = box.encrypt("APP_USR-123-secret")
    assert "secret" not in token
    assert box.decrypt(token) == "APP_USR-123-secret"


def test_rotation_first_key_encrypts_all_decrypt() -> None:
    old, new = new_key(), new_key()
    before = SecretBox([old.encode()]).encrypt("token")
    rotated = SecretBox([new.encode(), old.encode()])
    assert rotated.decrypt(before) == "token"
    with pytest.raises(DecryptionFailed):
        SecretBox([old.encode()]).decrypt(rotated.encrypt("token"))


def test_tampered_or_foreign_ciphertext_fails() -> None:
    box = SecretBox([new_key().encode()])
    token = box.encrypt("token")
    with pytest.raises(DecryptionFailed):
        box.decrypt(token[:-4] + "AAAA")
    with pytest.raises(DecryptionFailed):
        SecretBox([new_key().encode()]).decrypt(token)


def test_keys_from_settings() -> None:
    derived = SecretBox.from_settings(Settings(secret_key="x" * 40, _env_file=None))  # type: ignore[call-arg]
    assert SecretBox([derive_key("x" * 40)]).decrypt(derived.encrypt("a")) == "a"
    key = new_key()
    configured = SecretBox.from_settings(
        Settings(data_encryption_key=f" {key} , {new_key()}", _env_file=None)  # type: ignore[call-arg]
    )
    assert SecretBox([key.encode()]).decrypt(configured.encrypt("b")) == "b"
