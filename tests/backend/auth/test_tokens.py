from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from backend.auth.tokens import (
    decode_access_token,
    digest,
    is_api_key,
    issue_access_token,
    new_api_key,
)
from backend.errors import Unauthorized
from backend.types import utcnow

KEY = "k" * 32


def test_access_token_carries_the_claims() -> None:
    now = utcnow()
    token = issue_access_token(KEY, 3, 9, "manager", now, timedelta(minutes=15))
    raw = jwt.decode(token, KEY, algorithms=["HS256"])
    assert raw["sub"] == "3" and raw["gym"] == 9 and raw["role"] == "manager"
    assert raw["exp"] - raw["iat"] == 900 and raw["jti"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = decode_access_token(KEY, token)
    assert (claims.staff_user_id, claims.gym_id, claims.role) == (3, 9, "manager")


def test_expired_token_is_401_with_reason() -> None:
    token = issue_access_token(
        KEY, 3, 9, "owner", utcnow() - timedelta(hours=1), timedelta(minutes=30)
    )
    with pytest.raises(Unauthorized) as refused:
        decode_access_token(KEY, token)
    assert refused.value.details["reason"] == "token_expired"


@pytest.mark.parametrize(
    "token",
    [
        issue_access_token("other-key-" + "x" * 22, 3, 9, "owner", utcnow(), timedelta(minutes=5)),
        jwt.encode({"sub": "3", "gym": 9, "role": "owner"}, KEY, algorithm="HS256"),  # no exp
        jwt.encode(
            {"sub": "3", "gym": 9, "role": "owner", "exp": 9999999999, "iat": 1, "jti": "j"},
            key=None,
            algorithm="none",
        ),
        "not-a-jwt",
    ],
)
def test_forged_or_incomplete_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        decode_access_token(KEY, token)
    assert refused.value.details["reason"] == "invalid_token"


def test_api_keys_are_recognizable_and_stored_as_digests() -> None:
    key = new_api_key()
    assert is_api_key(key) and not is_api_key("eyJhbGciOi")
    assert digest(key) == digest(key) and len(digest(key)) == 64 and key not in digest(key)
