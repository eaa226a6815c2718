"""The timetable: materializing schedules, one-off changes, cancelling a session."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.classes.models import ClassBooking, ClassSession
from backend.classes.schedule import (
    cancel_session,
    change_session,
    create_class_type,
    create_schedule,
    materialize_sessions,
    sessions_between,
    update_schedule,
)
from backend.classes.service import book
from backend.gyms.models import StaffUser
from backend.messaging.models import OutboxMessage
from backend.types import utcnow
from tests.factories import (
    make_class_session,
    make_class_type,
    make_member,
    make_subscription,
    standard_gym,
)

TZ = ZoneInfo("America/Mexico_City")


async def count_sessions(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ClassSession)) or 0)


async def test_schedule_materializes_idempotently_in_local_time(session: AsyncSession) -> None:
    gym, centro, _, _, _ = await standard_gym(session)
    trainer = StaffUser(
        gym_id=gym.id,
        email="karla@gym.test",
        name="Karla Ruiz",
        role="trainer",
        password_hash="x",
    )
    session.add(trainer)
    await session.flush()
    spinning = await create_class_type(session, gym.id, name="Spinning", actor="staff:1")
    now = utcnow()
    today = now.astimezone(TZ).date()
    schedule = await create_schedule(
        session,
        gym,
        class_type_id=spinning.id,
        location_id=centro.id,
        weekday=(today.weekday() + 1) % 7,
        start_time=time(7, 0),
        valid_from=today,
        instructor_id=trainer.id,
        capacity=12,
        actor="staff:1",
        now=now,
    )
    assert await count_sessions(session) == 2  # 14 days ahead: two of that weekday
    assert await materialize_sessions(session, gym, now) == 0
    assert await count_sessions(session) == 2

    sessions = await sessions_between(session, gym.id, now, now + timedelta(days=14))
    first = sessions[0].class_session
    local = first.starts_at.astimezone(TZ)
    assert (local.hour, local.minute) == (7, 0)
    assert local.date() == today + timedelta(days=1)
    assert first.instructor_name == "Karla Ruiz" and first.capacity == 12
    assert (first.ends_at - first.starts_at) == timedelta(minutes=60)
    assert first.schedule_id == schedule.id


async def test_schedule_edit_moves_future_sessions_and_end_date_drops_them(
    session: AsyncSession,
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    yoga = await create_class_type(session, gym.id, name="Yoga", actor="staff:1")
    now = utcnow()
    today = now.astimezone(TZ).date()
    schedule = await create_schedule(
        session,
        gym,
        class_type_id=yoga.id,
        location_id=centro.id,
        weekday=(today.weekday() + 2) % 7,
        start_time=time(19, 0),
        valid_from=today,
        instructor_name="Pau",
        actor="staff:1",
        now=now,
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    first = (await sessions_between(session, gym.id, now, now + timedelta(days=14)))[0]
    await book(session, gym=gym, member=ana, session_id=first.class_session.id, now=now)

    await update_schedule(
        session, gym, schedule.id, {"start_time": time(20, 0)}, actor="staff:1", now=now
    )
    await session.refresh(first.class_session)
    assert first.class_session.starts_at.astimezone(TZ).hour == 20
    [moved] = (await session.scalars(select(OutboxMessage.body))).all()
    assert "Cambio en tu clase de *Yoga*" in moved

    await update_schedule(
        session,
        gym,
        schedule.id,
        {"valid_until": today + timedelta(days=2)},
        actor="staff:1",
        now=now,
    )
    remaining = await sessions_between(session, gym.id, now, now + timedelta(days=14))
    assert [v.class_session.id for v in remaining] == [first.class_session.id]


async def test_cancel_session_notifies_booked_and_waitlisted_and_returns_credits(
    session: AsyncSession,
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, capacity=1)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 2
    luis = await make_member(session, gym, phone="+525587654321", name="Luis", locale="en")
    await make_subscription(session, luis, premium)
    now = utcnow()
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    await book(session, gym=gym, member=luis, session_id=cs.id, now=now, waitlist=True)

    await cancel_session(session, gym, cs.id, reason="instructor enfermo", actor="staff:1", now=now)

    assert cs.status == "canceled"
    await session.refresh(sub)
    assert sub.class_credits_remaining == 2
    messages = {m.member_id: m.body for m in (await session.scalars(select(OutboxMessage))).all()}
    assert "Se canceló la clase de *Spinning*" in messages[ana.id]
    assert "instructor enfermo" in messages[ana.id] and "Te devolví tu clase" in messages[ana.id]
    assert "was canceled" in messages[luis.id]
    statuses = set((await session.scalars(select(ClassBooking.status))).all())
    assert statuses == {"canceled"}


async def test_more_capacity_promotes_from_the_waitlist(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, capacity=1)
    ana = await make_member(session, gym)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis")
    for m in (ana, luis):
        await make_subscription(session, m, premium)
    now = utcnow()
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    await book(session, gym=gym, member=luis, session_id=cs.id, now=now, waitlist=True)
    await change_session(session, gym, cs.id, {"capacity": 2}, actor="staff:1", now=now)
    statuses = set((await session.scalars(select(ClassBooking.status))).all())
    assert statuses == {"booked"}
    [told] = (await session.scalars(select(OutboxMessage))).all()
    assert told.member_id == luis.id


async def test_schedule_validity_window(session: AsyncSession) -> None:
    gym, centro, _, _, _ = await standard_gym(session)
    box = await create_class_type(session, gym.id, name="Box", actor="staff:1")
    now = utcnow()
    today = now.astimezone(TZ).date()
    start = today + timedelta(days=8)
    await create_schedule(
        session,
        gym,
        class_type_id=box.id,
        location_id=centro.id,
        weekday=start.weekday(),
        start_time=time(8, 0),
        valid_from=start,
        valid_until=start + timedelta(days=3),
        actor="staff:1",
        now=now,
    )
    views = await sessions_between(session, gym.id, now, now + timedelta(days=30))
    assert [v.class_session.occurs_on for v in views] == [start]
    assert isinstance(start, date)
