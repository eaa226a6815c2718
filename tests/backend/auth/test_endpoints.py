"""`/api/v1/auth` through the real routes: login, refresh rotation and reuse, logout,
API keys, staff accounts, the permission matrix and tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ApiKey, RefreshToken
from backend.gyms.models import StaffUser
from backend.members.models import AuditEntry
from backend.settings import Settings
from tests.factories import (
    STAFF_PASSWORD,
    access_token,
    auth_headers,
    make_api_key,
    make_gym,
    make_member,
    make_second_gym,
    make_staff,
)

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def login(client: httpx.AsyncClient, email: str, password: str = STAFF_PASSWORD) -> dict:
    response = await client.post(LOGIN, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message_es"] and error["message_en"]
    return error


# --- login ----------------------------------------------------------------------------------


async def test_login_returns_a_short_lived_jwt_and_a_refresh_token(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner", email="Duena@GoGym.test")
    await session.commit()

    body = await login(app_client, "  duena@gogym.TEST ")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds == 900
    claims = jwt.decode(body["access_token"], settings.secret_key, algorithms=["HS256"])
    assert claims["sub"] == str(owner.id) and claims["gym"] == gym.id
    assert claims["role"] == "owner" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 900
    # Only the digest of the refresh token is stored.
    stored = (await session.scalars(select(RefreshToken))).all()
    assert len(stored) == 1 and stored[0].token_hash != body["refresh_token"]

    me = await app_client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["subject_id"] == owner.id and "staff:manage" in me.json()["permissions"]


async def test_wrong_password_and_unknown_email_answer_the_same(
    app_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    gym = await make_gym(session)
    await make_staff(session, gym, "owner", email="owner@gogym.test")
    await make_staff(session, gym, "staff", email="gone@gogym.test", active=False)
    await session.commit()

    answers = [
        await app_client.post(LOGIN, json={"email": email, "password": password})
        for email, password in (
            ("owner@gogym.test", "wrong password"),
            ("nobody@gogym.test", STAFF_PASSWORD),
            ("gone@gogym.test", STAFF_PASSWORD),
        )
    ]
    for response in answers:
        assert_error(response, 401, "unauthorized")
    assert len({r.text for r in answers}) == 1
    assert await count(session, RefreshToken) == 0


async def test_same_email_at_two_gyms_picks_by_password_or_asks_for_the_gym(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    other = await make_second_gym(session)
    await make_staff(session, gym, "owner", email="ana@correo.test")
    await make_staff(session, other, "trainer", email="ana@correo.test", password="otra clave 123")
    await session.commit()

    body = await login(app_client, "ana@correo.test", "otra clave 123")
    assert (
        jwt.decode(body["access_token"], settings.secret_key, algorithms=["HS256"])["gym"]
        == other.id
    )

    await session.execute(
        StaffUser.__table__.update()
        .where(StaffUser.gym_id == other.id)
        .values(
            password_hash=(
                await session.scalar(
                    select(StaffUser.password_hash).where(StaffUser.gym_id == gym.id)
                )
            )
        )
    )
    await session.commit()
    both = await app_client.post(
        LOGIN, json={"email": "ana@correo.test", "password": STAFF_PASSWORD}
    )
    error = assert_error(both, 409, "conflict")
    assert error["details"]["gyms"] == ["otro", "test"]
    chosen = await app_client.post(
        LOGIN, json={"email": "ana@correo.test", "password": STAFF_PASSWORD, "gym": "otro"}
    )
    assert chosen.status_code == 200


@pytest.mark.parametrize(
    "content",
    [b'{"email": "owner@gogym.test", "password": ', b"null", b"[]", b'{"email": 1}'],
)
async def test_malformed_login_bodies_are_bilingual_4xx(
    app_client: httpx.AsyncClient, session: AsyncSession, content: bytes
) -> None:
    response = await app_client.post(
        LOGIN, content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["code"] in ("malformed_json", "invalid_input")
    assert error["message_es"] and error["message_en"]


async def test_truncated_json_is_400_malformed_json(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        LOGIN, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")


# --- refresh, reuse, logout ---------------------------------------------------------------


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    app_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    gym = await make_gym(session)
    await make_staff(session, gym, "manager")
    await session.commit()
    first = await login(app_client, "manager@test.test")

    second = await app_client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second_pair = second.json()
    assert second_pair["refresh_token"] != first["refresh_token"]
    third = await app_client.post(REFRESH, json={"refresh_token": second_pair["refresh_token"]})
    assert third.status_code == 200
    latest = third.json()["refresh_token"]

    # The first token again: a thief or a replay. The whole family dies, latest included.
    reused = await app_client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert assert_error(reused, 401, "unauthorized")["details"]["reason"] == "reused"
    after = await app_client.post(REFRESH, json={"refresh_token": latest})
    assert assert_error(after, 401, "unauthorized")["details"]["reason"] == "revoked"

    rows = (await session.scalars(select(RefreshToken))).all()
    assert len(rows) == 3 and len({r.family_id for r in rows}) == 1
    assert all(r.revoked_at is not None for r in rows)
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "auth.refresh_reuse" in actions

    # A separate login is a separate family and still works.
    fresh = await login(app_client, "manager@test.test")
    ok = await app_client.post(REFRESH, json={"refresh_token": fresh["refresh_token"]})
    assert ok.status_code == 200


async def test_unknown_and_expired_refresh_tokens_are_401(
    app_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    gym = await make_gym(session)
    await make_staff(session, gym, "owner")
    await session.commit()
    pair = await login(app_client, "owner@test.test")
    unknown = await app_client.post(REFRESH, json={"refresh_token": "made-up"})
    assert assert_error(unknown, 401, "unauthorized")["details"]["reason"] == "invalid"

    row = await session.scalar(select(RefreshToken))
    assert row is not None
    row.expires_at = row.created_at - timedelta(seconds=1)
    await session.commit()
    expired = await app_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert assert_error(expired, 401, "unauthorized")["details"]["reason"] == "expired"


async def test_logout_revokes_the_session(
    app_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    gym = await make_gym(session)
    await make_staff(session, gym, "owner")
    await session.commit()
    pair = await login(app_client, "owner@test.test")
    out = await app_client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 204
    again = await app_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert_error(again, 401, "unauthorized")
    # Unknown tokens log out quietly.
    assert (await app_client.post(LOGOUT, json={"refresh_token": "nope"})).status_code == 204


async def test_expired_forged_or_missing_access_tokens_are_401(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    await session.commit()
    expired = access_token(settings.secret_key, owner, ttl=timedelta(seconds=-5))
    response = await app_client.get(ME, headers=bearer(expired))
    assert assert_error(response, 401, "unauthorized")["details"]["reason"] == "token_expired"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    forged = access_token("not-the-secret-key-but-long-enough", owner)
    assert_error(await app_client.get(ME, headers=bearer(forged)), 401, "unauthorized")
    missing = await app_client.get(ME)
    assert assert_error(missing, 401, "unauthorized")["details"]["reason"] == (
        "missing_credentials"
    )


async def test_deactivated_staff_lose_access_and_sessions_at_once(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    clerk = await make_staff(session, gym, "staff")
    await session.commit()
    pair = await login(app_client, clerk.email)
    gone = await app_client.delete(
        f"/api/v1/auth/staff/{clerk.id}", headers=auth_headers(settings.secret_key, owner)
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert_error(
        await app_client.get(ME, headers=bearer(pair["access_token"])), 401, "unauthorized"
    )
    refused = await app_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert_error(refused, 401, "unauthorized")
    # Nobody locks themselves out.
    self_off = await app_client.delete(
        f"/api/v1/auth/staff/{owner.id}", headers=auth_headers(settings.secret_key, owner)
    )
    assert_error(self_off, 409, "conflict")


# --- permission matrix ---------------------------------------------------------------------

MATRIX = [
    # role, method, path, allowed
    ("trainer", "GET", "/api/v1/members", True),
    ("trainer", "POST", "/api/v1/members", False),
    ("staff", "POST", "/api/v1/members", True),
    ("staff", "GET", "/api/v1/auth/api-keys", False),
    ("manager", "GET", "/api/v1/auth/api-keys", False),
    ("manager", "GET", "/api/v1/auth/staff", False),
    ("manager", "POST", "/api/v1/members", True),
    ("owner", "GET", "/api/v1/auth/api-keys", True),
    ("owner", "GET", "/api/v1/auth/staff", True),
]


@pytest.mark.parametrize(("role", "method", "path", "allowed"), MATRIX)
async def test_permission_matrix(
    app_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    role: str,
    method: str,
    path: str,
    allowed: bool,
) -> None:
    gym = await make_gym(session)
    user = await make_staff(session, gym, role)
    await session.commit()
    body = {"phone": "55 1234 5678", "name": "Nuevo"} if method == "POST" else None
    response = await app_client.request(
        method, path, json=body, headers=auth_headers(settings.secret_key, user)
    )
    if allowed:
        assert response.status_code in (200, 201), response.text
    else:
        error = assert_error(response, 403, "forbidden")
        assert error["details"]["permission"]


async def test_a_demoted_user_loses_permissions_with_a_live_token(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    user = await make_staff(session, gym, "manager")
    await session.commit()
    headers = auth_headers(settings.secret_key, user)
    user.role = "trainer"
    await session.commit()
    response = await app_client.post(
        "/api/v1/members", json={"phone": "5512345678"}, headers=headers
    )
    assert_error(response, 403, "forbidden")


# --- API keys ------------------------------------------------------------------------------


async def test_owner_creates_lists_and_revokes_api_keys(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    await make_member(session, gym)
    await session.commit()
    headers = auth_headers(settings.secret_key, owner)

    created = await app_client.post(
        "/api/v1/auth/api-keys",
        json={"name": "CRM", "scopes": ["members:read"]},
        headers=headers,
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("ggk_") and created.json()["prefix"] == secret[:12]
    stored = await session.scalar(select(ApiKey))
    assert stored is not None and secret not in (stored.key_hash, stored.prefix)

    listed = await app_client.get("/api/v1/auth/api-keys", headers=headers)
    assert [k["name"] for k in listed.json()] == ["CRM"] and "key" not in listed.json()[0]

    # Both header styles work; the scopes bound what the key may do.
    for key_headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}):
        assert (await app_client.get("/api/v1/members", headers=key_headers)).status_code == 200
        denied = await app_client.post(
            "/api/v1/members", json={"phone": "5511112222"}, headers=key_headers
        )
        assert_error(denied, 403, "forbidden")
        me = await app_client.get(ME, headers=key_headers)
        assert me.json()["kind"] == "api_key" and me.json()["permissions"] == ["members:read"]

    revoked = await app_client.delete(f"/api/v1/auth/api-keys/{stored.id}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await app_client.get("/api/v1/members", headers={"X-API-Key": secret})
    assert assert_error(after, 401, "unauthorized")["details"]["reason"] == "invalid_api_key"
    actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"api_key.created", "api_key.revoked"} <= actions


@pytest.mark.parametrize(
    "scopes", [[], ["api_keys:manage"], ["staff:manage"], ["members:delete"], ["members:read", "x"]]
)
async def test_api_key_scopes_are_validated_and_nothing_written(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings, scopes: list[str]
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    await session.commit()
    response = await app_client.post(
        "/api/v1/auth/api-keys",
        json={"name": "CRM", "scopes": scopes},
        headers=auth_headers(settings.secret_key, owner),
    )
    assert_error(response, 422, "invalid_input")
    assert await count(session, ApiKey) == 0
    assert await count(session, AuditEntry) == 0


async def test_an_api_key_cannot_manage_keys_or_staff(
    app_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    gym = await make_gym(session)
    _, secret = await make_api_key(session, gym, scopes=["members:read", "members:write"])
    await session.commit()
    for path in ("/api/v1/auth/api-keys", "/api/v1/auth/staff"):
        assert_error(await app_client.get(path, headers={"X-API-Key": secret}), 403, "forbidden")


# --- staff accounts -----------------------------------------------------------------------


async def test_owner_creates_staff_who_can_log_in(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    await session.commit()
    headers = auth_headers(settings.secret_key, owner)
    created = await app_client.post(
        "/api/v1/auth/staff",
        json={"email": "Coach@GoGym.test", "name": "Coach", "role": "trainer"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "coach@gogym.test" and body["role"] == "trainer"
    password = body["password"]
    assert password
    pair = await login(app_client, "coach@gogym.test", password)
    me = (await app_client.get(ME, headers=bearer(pair["access_token"]))).json()
    assert me["role"] == "trainer" and "members:write" not in me["permissions"]

    dup = await app_client.post(
        "/api/v1/auth/staff",
        json={"email": "coach@gogym.test", "name": "Otro", "role": "staff", "password": "x" * 12},
        headers=headers,
    )
    assert_error(dup, 409, "conflict")
    bad = await app_client.post(
        "/api/v1/auth/staff",
        json={"email": "no-es-correo", "name": "X", "role": "front_desk"},
        headers=headers,
    )
    assert_error(bad, 422, "invalid_input")
    listed = await app_client.get("/api/v1/auth/staff", headers=headers)
    assert sorted(u["role"] for u in listed.json()) == ["owner", "trainer"]


# --- tenant isolation --------------------------------------------------------------------


async def test_another_gyms_keys_and_staff_are_404_and_never_listed(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    other = await make_second_gym(session)
    owner = await make_staff(session, gym, "owner")
    their_owner = await make_staff(session, other, "owner")
    their_clerk = await make_staff(session, other, "staff")
    their_key, their_secret = await make_api_key(session, other)
    await session.commit()
    headers = auth_headers(settings.secret_key, owner)

    for method, path in (
        ("DELETE", f"/api/v1/auth/api-keys/{their_key.id}"),
        ("DELETE", f"/api/v1/auth/staff/{their_clerk.id}"),
        ("DELETE", f"/api/v1/auth/staff/{their_owner.id}"),
    ):
        assert_error(await app_client.request(method, path, headers=headers), 404, "not_found")
    assert (await app_client.get("/api/v1/auth/api-keys", headers=headers)).json() == []
    staff = (await app_client.get("/api/v1/auth/staff", headers=headers)).json()
    assert [u["id"] for u in staff] == [owner.id]

    await session.refresh(their_key)
    await session.refresh(their_clerk)
    assert their_key.revoked_at is None and their_clerk.active
    # Their key sees their gym only.
    me = (await app_client.get(ME, headers={"X-API-Key": their_secret})).json()
    assert me["gym_id"] == other.id
