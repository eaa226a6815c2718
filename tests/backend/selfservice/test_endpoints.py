"""`/api/v1/selfservice`, `/api/v1/handoff` and `/api/v1/privacy`: permissions and tenant
isolation (another gym's ids answer 404)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from backend.handoff.models import HandoffTicket
from backend.privacy.models import PrivacyRequest
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import auth_headers, make_member, make_second_gym, make_staff, standard_gym


async def test_settings_and_holidays_round_trip_with_permissions(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, *_ = await standard_gym(session)
    owner = await make_staff(session, gym)
    desk = await make_staff(session, gym, role="staff")
    trainer = await make_staff(session, gym, role="trainer")
    await session.commit()
    owner_h = auth_headers(settings.secret_key, owner)
    body = {
        "amenities": {"all": ["Regaderas"], str(centro.id): ["Alberca"]},
        "retention_offers": {"price": {"kind": "discount", "percent": 15, "months": 1}},
        "privacy_notice_url": "https://gogym.mx/privacidad",
        "handoff_reply_minutes": 60,
    }
    r = await app_client.put("/api/v1/selfservice/settings", json=body, headers=owner_h)
    assert r.status_code == 200, r.text
    assert r.json()["retention_offers"]["price"]["percent"] == 15
    bad = {**body, "retention_offers": {"boredom": {"kind": "freeze"}}}
    r = await app_client.put("/api/v1/selfservice/settings", json=bad, headers=owner_h)
    assert r.status_code == 422
    desk_h = auth_headers(settings.secret_key, desk)
    assert (await app_client.get("/api/v1/selfservice/settings", headers=desk_h)).status_code == 200
    r = await app_client.put("/api/v1/selfservice/settings", json=body, headers=desk_h)
    assert r.status_code == 403
    trainer_h = auth_headers(settings.secret_key, trainer)
    r = await app_client.get("/api/v1/selfservice/settings", headers=trainer_h)
    assert r.status_code == 403

    day = (date.today() + timedelta(days=30)).isoformat()
    r = await app_client.post(
        "/api/v1/selfservice/holidays",
        json={"day": day, "name": "Navidad", "closed": False, "opens": "09:00", "closes": "14:00"},
        headers=owner_h,
    )
    assert r.status_code == 201, r.text
    holiday_id = r.json()["id"]
    r = await app_client.post(
        "/api/v1/selfservice/holidays",
        json={"day": day, "name": "x", "closed": False},
        headers=owner_h,
    )
    assert r.status_code == 422  # special hours need both times
    listed = (await app_client.get("/api/v1/selfservice/holidays", headers=owner_h)).json()
    assert [h["name"] for h in listed["items"]] == ["Navidad"]

    other = await make_second_gym(session)
    other_owner = await make_staff(session, other)
    await session.commit()
    other_h = auth_headers(settings.secret_key, other_owner)
    r = await app_client.delete(f"/api/v1/selfservice/holidays/{holiday_id}", headers=other_h)
    assert r.status_code == 404
    r = await app_client.post(
        "/api/v1/selfservice/holidays",
        json={"day": day, "name": "x", "location_id": centro.id},
        headers=other_h,
    )
    assert r.status_code == 404
    assert (await app_client.get("/api/v1/selfservice/holidays", headers=other_h)).json()[
        "items"
    ] == []
    r = await app_client.delete(f"/api/v1/selfservice/holidays/{holiday_id}", headers=owner_h)
    assert r.status_code == 204


async def test_handoff_and_privacy_are_scoped_to_the_gym(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, *_ = await standard_gym(session)
    ana = await make_member(session, gym)
    now = utcnow()
    ticket = HandoffTicket(
        gym_id=gym.id,
        member_id=ana.id,
        summary="quiero hablar con alguien",
        context=[],
        opened_at=now,
        silence_until=now + timedelta(hours=24),
    )
    request = PrivacyRequest(
        gym_id=gym.id,
        member_id=ana.id,
        kind="deletion",
        status="open",
        requested_at=now,
        verified_at=now,
        due_at=now - timedelta(days=1),
    )
    session.add_all([ticket, request])
    owner = await make_staff(session, gym)
    desk = await make_staff(session, gym, role="staff")
    other = await make_second_gym(session)
    other_owner = await make_staff(session, other)
    await session.commit()
    owner_h = auth_headers(settings.secret_key, owner)
    other_h = auth_headers(settings.secret_key, other_owner)
    desk_h = auth_headers(settings.secret_key, desk)

    page = (await app_client.get("/api/v1/handoff/tickets?status=open", headers=owner_h)).json()
    assert [t["id"] for t in page["items"]] == [ticket.id]
    assert page["items"][0]["member_name"] == "Ana López"
    assert (await app_client.get("/api/v1/handoff/tickets", headers=other_h)).json()["items"] == []
    for path in (f"/api/v1/handoff/tickets/{ticket.id}",):
        assert (await app_client.get(path, headers=other_h)).status_code == 404
    r = await app_client.post(
        f"/api/v1/handoff/tickets/{ticket.id}/reply", json={"body": "hola"}, headers=other_h
    )
    assert r.status_code == 404
    r = await app_client.post(f"/api/v1/handoff/tickets/{ticket.id}/close", headers=desk_h)
    assert r.status_code == 200 and r.json()["closed_by"] == f"staff:{desk.id}"
    r = await app_client.post(f"/api/v1/handoff/tickets/{ticket.id}/close", headers=desk_h)
    assert r.status_code == 409

    listed = (await app_client.get("/api/v1/privacy/requests", headers=owner_h)).json()
    assert listed["items"][0]["overdue"] is True
    assert (await app_client.get("/api/v1/privacy/requests", headers=desk_h)).status_code == 403
    assert (
        await app_client.get(f"/api/v1/privacy/requests/{request.id}", headers=other_h)
    ).status_code == 404
    r = await app_client.post(f"/api/v1/privacy/requests/{request.id}/execute", headers=other_h)
    assert r.status_code == 404
    r = await app_client.get(f"/api/v1/privacy/members/{ana.id}/export", headers=other_h)
    assert r.status_code == 404
    r = await app_client.get(f"/api/v1/privacy/members/{ana.id}/export", headers=owner_h)
    assert r.status_code == 200 and r.json()["member"]["name"] == "Ana López"
