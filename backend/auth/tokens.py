"""Access JWTs (HS256 with SECRET_KEY) and opaque secrets (refresh tokens, API keys)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from backend.errors import Unauthenticated

ALGORITHM = "HS256"
API_KEY_PREFIX = "ggk_"
# Shown in key listings: "ggk_" and the first 8 characters of the secret.
API_KEY_DISPLAY_CHARS = 12


@dataclass(frozen=True)
class AccessClaims:
    staff_user_id: int
    gym_id: int
    role: str
    jti: str
    expires_at: datetime


def issue_access_token(
    secret_key: str, staff_user_id: int, gym_id: int, role: str, now: datetime, ttl: timedelta
) -> str:
    claims = {
        "sub": str(staff_user_id),
        "gym": gym_id,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def decode_access_token(secret_key: str, token: str) -> AccessClaims:
    """The claims of a valid, unexpired token; anything else is a 401."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "gym", "role", "exp", "iat", "jti"]},
        )
        return AccessClaims(
            staff_user_id=int(claims["sub"]),
            gym_id=int(claims["gym"]),
            role=str(claims["role"]),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated(
            "Tu sesión expiró; renueva el token.",
            "The access token has expired; refresh it.",
            {"reason": "token_expired"},
        ) from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise Unauthenticated(
            "Token de acceso inválido.", "Invalid access token.", {"reason": "invalid_token"}
        ) from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return uuid.uuid4().hex


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough to store it, unlike a password."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
