"""`/api/v1/classes` through the real routes: schedule CRUD, one-off changes, cancel with
notices, bookings and attendance, bad input, and tenant isolation."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.members.models import AuditEntry
from backend.messaging.models import OutboxMessage
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    auth_headers,
    make_api_key,
    make_class_session,
    make_class_type,
    make_location,
    make_member,
    make_second_gym,
    make_staff,
    make_subscription,
    standard_gym,
)

API = "/api/v1/classes"
TZ = ZoneInfo("America/Mexico_City")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message_es"] and error["message_en"]


async def test_staff_build_a_weekly_schedule_and_list_sessions(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    manager = await make_staff(session, gym, "manager")
    trainer = await make_staff(session, gym, "trainer", name="Karla Ruiz")
    await session.commit()
    headers = auth_headers(settings.secret_key, manager)

    created = await app_client.post(
        f"{API}/types",
        json={
            "name": "Yoga",
            "duration_minutes": 50,
            "default_capacity": 15,
            "plan_ids": [premium.id],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    yoga = created.json()
    assert yoga["all_plans"] is False and yoga["plan_ids"] == [premium.id]

    today = utcnow().astimezone(TZ).date()
    tomorrow = today + timedelta(days=1)
    schedule = await app_client.post(
        f"{API}/schedules",
        json={
            "class_type_id": yoga["id"],
            "location_id": centro.id,
            "weekday": tomorrow.weekday(),
            "start_time": "08:30",
            "valid_from": today.isoformat(),
            "instructor_id": trainer.id,
        },
        headers=headers,
    )
    assert schedule.status_code == 201, schedule.text
    assert schedule.json()["instructor_name"] == "Karla Ruiz"

    listed = await app_client.get(f"{API}/sessions", params={"limit": 1}, headers=headers)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    [first] = page["items"]
    assert first["class_name"] == "Yoga" and first["capacity"] == 15 and first["free"] == 15
    assert first["local_start"].startswith(f"{tomorrow.isoformat()}T08:30")
    assert page["next_cursor"] is None  # 7 days: one session of that weekday

    wide = await app_client.get(
        f"{API}/sessions",
        params={"from": utcnow().isoformat(), "to": (utcnow() + timedelta(days=14)).isoformat()},
        headers=headers,
    )
    assert len(wide.json()["items"]) == 2
    assert await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "class_schedule.created")
    )


async def test_cancel_session_notifies_and_bookings_show_it(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    front = await make_staff(session, gym, "staff")
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    headers = auth_headers(settings.secret_key, front)

    booked = await app_client.post(
        f"{API}/sessions/{cs.id}/bookings", json={"member_id": ana.id}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "booked" and booked.json()["source"] == "staff"
    again = await app_client.post(
        f"{API}/sessions/{cs.id}/bookings", json={"member_id": ana.id}, headers=headers
    )
    assert_error(again, 409, "already_booked")

    canceled = await app_client.post(
        f"{API}/sessions/{cs.id}/cancel", json={"reason": "mantenimiento"}, headers=headers
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    [told] = (await session.scalars(select(OutboxMessage))).all()
    assert told.member_id == ana.id and "mantenimiento" in told.body
    bookings = await app_client.get(f"{API}/sessions/{cs.id}/bookings", headers=headers)
    assert [b["status"] for b in bookings.json()] == ["canceled"]
    assert bookings.json()[0]["cancel_reason"] == "session_canceled"


async def test_one_off_change_and_attendance(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, norte, premium, _ = await standard_gym(session)
    trainer = await make_staff(session, gym, "trainer")
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    headers = auth_headers(settings.secret_key, trainer)
    booking = await app_client.post(
        f"{API}/sessions/{cs.id}/bookings", json={"member_id": ana.id}, headers=headers
    )
    new_start = (cs.starts_at + timedelta(hours=1)).isoformat()
    moved = await app_client.patch(
        f"{API}/sessions/{cs.id}",
        json={"starts_at": new_start, "location_id": norte.id, "capacity": 30},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["location_name"] == "GoGym Norte" and moved.json()["capacity"] == 30
    [told] = (await session.scalars(select(OutboxMessage))).all()
    assert "Cambio en tu clase" in told.body and "GoGym Norte" in told.body

    early = await app_client.post(
        f"{API}/sessions/{cs.id}/attendance",
        json={"booking_id": booking.json()["id"], "status": "attended"},
        headers=headers,
    )
    assert_error(early, 409, "conflict")


async def test_bad_input_is_a_bilingual_4xx(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, _, _, _ = await standard_gym(session)
    manager = await make_staff(session, gym, "manager")
    spinning = await make_class_type(session, gym)
    await session.commit()
    headers = auth_headers(settings.secret_key, manager)

    assert_error(
        await app_client.post(f"{API}/types", json={"name": ""}, headers=headers),
        422,
        "invalid_input",
    )
    assert_error(
        await app_client.post(f"{API}/types", json={"name": "Spinning"}, headers=headers),
        409,
        "conflict",
    )
    bad_weekday = {
        "class_type_id": spinning.id,
        "location_id": centro.id,
        "weekday": 9,
        "start_time": "07:00",
        "valid_from": "2026-01-01",
    }
    assert_error(
        await app_client.post(f"{API}/schedules", json=bad_weekday, headers=headers),
        422,
        "invalid_input",
    )
    naive = {
        "class_type_id": spinning.id,
        "location_id": centro.id,
        "starts_at": "2030-01-01T07:00:00",
    }
    assert_error(
        await app_client.post(f"{API}/sessions", json=naive, headers=headers),
        422,
        "invalid_input",
    )
    past = naive | {"starts_at": "2020-01-01T07:00:00-06:00"}
    assert_error(
        await app_client.post(f"{API}/sessions", json=past, headers=headers),
        422,
        "invalid_input",
    )
    not_trainer = bad_weekday | {"weekday": 1, "instructor_id": manager.id}
    assert_error(
        await app_client.post(f"{API}/schedules", json=not_trainer, headers=headers),
        422,
        "invalid_input",
    )
    backwards = {"from": utcnow().isoformat(), "to": (utcnow() - timedelta(days=1)).isoformat()}
    assert_error(
        await app_client.get(f"{API}/sessions", params=backwards, headers=headers),
        422,
        "invalid_input",
    )
    assert_error(await app_client.get(f"{API}/types"), 401, "unauthorized")


async def test_another_gyms_ids_answer_404(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    other = await make_second_gym(session)
    other_place = await make_location(session, other, "sur")
    intruder = await make_staff(session, other, "owner")
    await session.commit()
    headers = auth_headers(settings.secret_key, intruder)

    for response in (
        await app_client.get(f"{API}/sessions/{cs.id}", headers=headers),
        await app_client.get(f"{API}/sessions/{cs.id}/bookings", headers=headers),
        await app_client.patch(f"{API}/sessions/{cs.id}", json={"capacity": 5}, headers=headers),
        await app_client.post(f"{API}/sessions/{cs.id}/cancel", json={}, headers=headers),
        await app_client.get(f"{API}/types/{cs.class_type_id}", headers=headers),
    ):
        assert_error(response, 404, "not_found")
    foreign_member = await app_client.post(
        f"{API}/sessions/{cs.id}/bookings", json={"member_id": ana.id}, headers=headers
    )
    assert_error(foreign_member, 404, "not_found")
    foreign_type = await app_client.post(
        f"{API}/schedules",
        json={
            "class_type_id": cs.class_type_id,
            "location_id": other_place.id,
            "weekday": 1,
            "start_time": "07:00",
            "valid_from": "2026-01-01",
        },
        headers=headers,
    )
    assert_error(foreign_type, 404, "not_found")
    assert (await app_client.get(f"{API}/sessions", headers=headers)).json()["items"] == []
    assert premium.gym_id == gym.id


async def test_read_only_roles_cannot_write(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym, _, _, _, _ = await standard_gym(session)
    _, secret = await make_api_key(session, gym, scopes=("classes:read",))
    await session.commit()
    headers = {"X-API-Key": secret}
    assert (await app_client.get(f"{API}/types", headers=headers)).status_code == 200
    assert_error(
        await app_client.post(f"{API}/types", json={"name": "Zumba"}, headers=headers),
        403,
        "forbidden",
    )
