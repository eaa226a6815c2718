"""Staff password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when no account matches, so a wrong email costs as much as a wrong
# password and the timing does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Hash a password with a fresh random salt (`$argon2id$...`)."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """True when `password` matches `hashed`; False for a wrong password or a malformed hash."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification(password: str) -> None:
    """Spend one verification's worth of work, for a login whose email matched nobody."""
    verify_password(password, _DUMMY_HASH)


def generate_password() -> str:
    """A random 16-character URL-safe password."""
    return secrets.token_urlsafe(12)
