"""`/api/v1/members` through the real routes: CRUD, search, pagination, audit, bad input
and tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.members.models import AuditEntry, Member, MemberEvent
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    auth_headers,
    make_api_key,
    make_gym,
    make_location,
    make_member,
    make_second_gym,
    make_staff,
)

MEMBERS = "/api/v1/members"


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message_es"] and error["message_en"]
    return error


@pytest.fixture
async def front_desk(session: AsyncSession, settings: Settings) -> dict[str, str]:
    """Headers of a staff (front-desk) user at the test gym."""
    gym = await make_gym(session)
    user = await make_staff(session, gym, "staff")
    await session.commit()
    return auth_headers(settings.secret_key, user)


async def test_create_get_patch_and_deactivate_with_audit(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    centro = await make_location(session, gym, "centro")
    user = await make_staff(session, gym, "staff")
    await session.commit()
    headers = auth_headers(settings.secret_key, user)

    created = await app_client.post(
        MEMBERS,
        json={
            "phone": "whatsapp:+5215512345678",
            "name": "Ana López",
            "locale": "es",
            "home_location_id": centro.id,
            "marketing_opt_in": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    member = created.json()
    assert member["phone"] == "+525512345678" and member["status"] == "prospect"
    assert member["marketing_opt_in"] and member["marketing_opt_in_at"]
    assert not member["biometrics_opt_in"] and member["biometrics_opt_in_at"] is None

    got = await app_client.get(f"{MEMBERS}/{member['id']}", headers=headers)
    assert got.json() == member

    patched = await app_client.patch(
        f"{MEMBERS}/{member['id']}",
        json={"status": "active", "marketing_opt_in": False, "name": None, "locale": "en"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["status"] == "active" and body["locale"] == "en" and body["name"] is None
    assert body["marketing_opt_in"] is False and body["marketing_opt_in_at"] is None

    gone = await app_client.delete(f"{MEMBERS}/{member['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["status"] == "inactive"
    again = await app_client.delete(f"{MEMBERS}/{member['id']}", headers=headers)
    assert again.status_code == 200  # idempotent
    assert (await app_client.get(f"{MEMBERS}/{member['id']}", headers=headers)).status_code == 200

    audits = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(a.action, a.actor) for a in audits] == [
        ("member.created", f"staff:{user.id}"),
        ("member.updated", f"staff:{user.id}"),
        ("member.deactivated", f"staff:{user.id}"),
    ]
    assert audits[1].data["fields"] == ["locale", "marketing_opt_in", "name", "status"]
    assert "name" not in audits[1].data["values"]  # personal data stays out of the log
    kinds = (await session.scalars(select(MemberEvent.kind).order_by(MemberEvent.id))).all()
    assert kinds == ["member_created", "status_changed", "member_deactivated"]


async def test_search_by_name_or_phone_status_filter_and_cursor_pages(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    user = await make_staff(session, gym, "trainer")
    base = utcnow() - timedelta(days=1)
    names = ["Ana López", "Luis Pérez", "Ana María Ruiz", "Pedro 100%_raro", "Sofía Anaya"]
    for i, name in enumerate(names):
        await make_member(
            session,
            gym,
            phone=f"+5255000000{i:02d}",
            name=name,
            status="inactive" if i == 4 else "active",
            created_at=base + timedelta(minutes=i),
        )
    # Same created_at: the id breaks the tie, so no row is skipped or repeated.
    for i in range(5, 8):
        await make_member(
            session, gym, phone=f"+5255000000{i:02d}", name=f"Twin {i}", created_at=base
        )
    await session.commit()
    headers = auth_headers(settings.secret_key, user)

    async def names_for(**params: object) -> list[str]:
        response = await app_client.get(MEMBERS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [m["name"] for m in response.json()["items"]]

    assert await names_for(q="ana") == ["Sofía Anaya", "Ana María Ruiz", "Ana López"]
    assert await names_for(q="ana", status="active") == ["Ana María Ruiz", "Ana López"]
    assert await names_for(q="55 0000 0001") == ["Luis Pérez"]
    assert await names_for(q="+521 55 0000 0001") == ["Luis Pérez"]  # WhatsApp form
    assert await names_for(q="100%") == ["Pedro 100%_raro"]  # LIKE wildcards are literal
    assert await names_for(q="%") == ["Pedro 100%_raro"]
    assert await names_for(q="nadie") == []

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await app_client.get(MEMBERS, params=params, headers=headers)).json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 8
    everything = (await app_client.get(MEMBERS, params={"limit": 200}, headers=headers)).json()
    assert [m["id"] for m in everything["items"]] == seen and everything["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_input"),
        ({"limit": 201}, "invalid_input"),
        ({"cursor": "not-a-cursor"}, "invalid_input"),
        ({"cursor": "WyJ4Il0"}, "invalid_input"),  # base64 of ["x"]: wrong shape
        ({"status": "deleted"}, "invalid_input"),
    ],
)
async def test_bad_list_parameters_are_422(
    app_client: httpx.AsyncClient, front_desk: dict[str, str], params: dict, code: str
) -> None:
    assert_error(await app_client.get(MEMBERS, params=params, headers=front_desk), 422, code)


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"phone": "5512345678", ', 400, "malformed_json"),
        (b'{"phone": "12"}', 422, "invalid_input"),
        (b'{"phone": "+52 55 1234 567"}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "locale": "fr"}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "status": "inactive"}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "gym_id": 2}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "home_location_id": 999999}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "name": ""}', 422, "invalid_input"),
        (b'{"phone": "5512345678", "marketing_opt_in": "maybe"}', 422, "invalid_input"),
    ],
)
async def test_bad_input_is_bilingual_4xx_and_nothing_written(
    app_client: httpx.AsyncClient,
    session: AsyncSession,
    front_desk: dict[str, str],
    content: bytes,
    status: int,
    code: str,
) -> None:
    response = await app_client.post(
        MEMBERS, content=content, headers=front_desk | {"Content-Type": "application/json"}
    )
    assert_error(response, status, code)
    assert await count(session, Member) == 0
    assert await count(session, AuditEntry) == 0
    assert await count(session, MemberEvent) == 0


async def test_duplicate_phone_is_409_and_nothing_half_written(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    user = await make_staff(session, gym, "manager")
    ana = await make_member(session, gym, phone="+525512345678")
    luis = await make_member(session, gym, phone="+525587654321", name="Luis")
    await session.commit()
    headers = auth_headers(settings.secret_key, user)
    dup = await app_client.post(MEMBERS, json={"phone": "55 1234 5678"}, headers=headers)
    assert assert_error(dup, 409, "conflict")["details"]["member_id"] == ana.id
    clash = await app_client.patch(
        f"{MEMBERS}/{luis.id}", json={"phone": "+5215512345678", "name": "Luis P."}, headers=headers
    )
    assert_error(clash, 409, "conflict")
    await session.refresh(luis)
    assert (luis.phone, luis.name) == ("+525587654321", "Luis")
    assert await count(session, AuditEntry) == 0
    nulls = await app_client.patch(f"{MEMBERS}/{luis.id}", json={"phone": None}, headers=headers)
    assert_error(nulls, 422, "invalid_input")


async def test_tenant_isolation_for_every_member_endpoint(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    other = await make_second_gym(session)
    their_location = await make_location(session, other, "sur")
    mine = await make_member(session, gym, phone="+525511111111", name="Mía")
    theirs = await make_member(session, other, phone="+525522222222", name="Ajena")
    owner = await make_staff(session, gym, "owner")
    key, secret = await make_api_key(session, gym, scopes=["members:read", "members:write"])
    await session.commit()

    for headers in (auth_headers(settings.secret_key, owner), {"X-API-Key": secret}):
        for method, body in (("GET", None), ("PATCH", {"name": "Robada"}), ("DELETE", None)):
            response = await app_client.request(
                method, f"{MEMBERS}/{theirs.id}", json=body, headers=headers
            )
            assert_error(response, 404, "not_found")
        listed = await app_client.get(MEMBERS, params={"q": "a"}, headers=headers)
        assert [m["id"] for m in listed.json()["items"]] == [mine.id]
        by_phone = await app_client.get(MEMBERS, params={"q": "5522222222"}, headers=headers)
        assert by_phone.json()["items"] == []
        # Another gym's location cannot be a home location here.
        moved = await app_client.patch(
            f"{MEMBERS}/{mine.id}", json={"home_location_id": their_location.id}, headers=headers
        )
        assert_error(moved, 422, "invalid_input")
    # The same phone may belong to members of two gyms.
    same = await app_client.post(
        MEMBERS, json={"phone": "+525522222222"}, headers={"X-API-Key": secret}
    )
    assert same.status_code == 201
    await session.refresh(theirs)
    assert (theirs.name, theirs.status) == ("Ajena", "active")
    actors = (await session.scalars(select(AuditEntry.actor))).all()
    assert actors == [f"api_key:{key.id}"]  # the one write that happened
