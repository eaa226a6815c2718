"""Class jobs: reminders once, no-shows after the class, attendance from check-ins."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.checkins.models import CheckIn
from backend.classes.models import ClassBooking, ClassSchedule, ClassSettings
from backend.classes.service import book
from backend.classes.tasks import materialize_all, record_no_shows, send_class_reminders
from backend.members.models import AuditEntry, MemberEvent
from backend.messaging.models import OutboxMessage
from backend.types import utcnow
from tests.factories import (
    make_class_session,
    make_class_type,
    make_member,
    make_subscription,
    standard_gym,
)

TZ = ZoneInfo("America/Mexico_City")  # the standard gym's; quiet hours 21:00–8:00


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A fixed local time: reminders depend on the hour (quiet hours), not on when CI runs."""
    return datetime.combine(
        utcnow().astimezone(TZ).date() + timedelta(days=1), time(hour, minute), TZ
    )


async def bodies(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(OutboxMessage.body))).all())


async def test_reminder_two_hours_before_is_sent_once(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    now = tomorrow_at(10)
    cs = await make_class_session(
        session, await make_class_type(session, gym), centro, starts_at=now + timedelta(hours=5)
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)

    assert await send_class_reminders(session, now + timedelta(hours=2)) == 0  # 3 h before
    assert await send_class_reminders(session, now + timedelta(hours=3, minutes=1)) == 1
    assert await send_class_reminders(session, now + timedelta(hours=3, minutes=6)) == 0
    [body] = await bodies(session)
    assert "Recordatorio" in body and "Spinning" in body and "GoGym Centro" in body
    assert "es hoy a las 3:00 p.m." in body and "con Karla" in body


async def test_an_early_class_is_reminded_the_evening_before_not_in_quiet_hours(
    session: AsyncSession,
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    now = tomorrow_at(12)
    starts = tomorrow_at(6, 30) + timedelta(days=1)  # due at 4:30, inside 21:00–8:00
    cs = await make_class_session(session, await make_class_type(session, gym), centro, starts)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    late = await make_member(session, gym, phone="+5215511110000")
    await make_subscription(session, late, premium)

    assert await send_class_reminders(session, tomorrow_at(20, 20)) == 0
    assert await send_class_reminders(session, tomorrow_at(20, 31)) == 1
    # Booked after that, at night: the confirmation was the reminder.
    await book(session, gym=gym, member=late, session_id=cs.id, now=tomorrow_at(23))
    assert await send_class_reminders(session, starts - timedelta(hours=2)) == 0
    [body] = await bodies(session)
    assert "es mañana a las 6:30 a.m." in body


async def test_no_reminder_for_a_seat_taken_inside_the_window(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    now = tomorrow_at(10)
    cs = await make_class_session(
        session, await make_class_type(session, gym), centro, starts_at=now + timedelta(hours=1)
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    assert await send_class_reminders(session, now + timedelta(minutes=1)) == 0
    assert await bodies(session) == []


async def test_reminder_uses_the_gyms_template_when_configured(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    session.add(ClassSettings(gym_id=gym.id, templates={"class_reminder": "HX123"}))
    now = tomorrow_at(10)
    cs = await make_class_session(
        session, await make_class_type(session, gym), centro, starts_at=now + timedelta(hours=3)
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    assert await send_class_reminders(session, now + timedelta(hours=1, minutes=30)) == 1
    sent = await session.scalar(select(OutboxMessage))
    assert sent is not None and sent.content_sid == "HX123"
    assert sent.content_variables and sent.content_variables["1"] == "Spinning"


async def test_no_shows_and_attendance_after_the_class(session: AsyncSession) -> None:
    gym, centro, norte, premium, _ = await standard_gym(session)
    now = utcnow()
    starts = now + timedelta(hours=3)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, starts)
    came = await make_member(session, gym)
    elsewhere = await make_member(session, gym, phone="+525587654321", name="Luis")
    absent = await make_member(session, gym, phone="+525599999999", name="Sofía")
    for m in (came, elsewhere, absent):
        await make_subscription(session, m, premium)
        await book(session, gym=gym, member=m, session_id=cs.id, now=now)
    session.add_all(
        [
            CheckIn(
                gym_id=gym.id,
                member_id=came.id,
                location_id=centro.id,
                method="code",
                checked_in_at=starts - timedelta(minutes=10),
            ),
            CheckIn(
                gym_id=gym.id,
                member_id=elsewhere.id,
                location_id=norte.id,
                method="code",
                checked_in_at=starts,
            ),
        ]
    )
    await session.flush()

    assert await record_no_shows(session, starts + timedelta(minutes=10)) == 0  # not over
    after = starts + timedelta(hours=1)
    assert await record_no_shows(session, after) == 2
    assert await record_no_shows(session, after + timedelta(minutes=15)) == 0  # once

    statuses = dict(
        (await session.execute(select(ClassBooking.member_id, ClassBooking.status))).all()
    )
    assert statuses == {came.id: "attended", elsewhere.id: "no_show", absent.id: "no_show"}
    events = (
        await session.execute(
            select(MemberEvent.member_id, MemberEvent.kind).where(
                MemberEvent.kind.in_(("class_no_show", "class_attended"))
            )
        )
    ).all()
    assert sorted(events) == sorted(
        [(came.id, "class_attended"), (elsewhere.id, "class_no_show"), (absent.id, "class_no_show")]
    )
    assert await session.scalar(select(AuditEntry).where(AuditEntry.action == "class.no_show"))


async def test_materialize_job_is_idempotent(session: AsyncSession) -> None:
    gym, centro, _, _, _ = await standard_gym(session)
    yoga = await make_class_type(session, gym, "Yoga")
    now = utcnow()
    session.add_all(
        ClassSchedule(
            gym_id=gym.id,
            class_type_id=yoga.id,
            location_id=centro.id,
            weekday=day,
            start_time=time(8, 30),
            valid_from=now.date() - timedelta(days=30),
            active=True,
        )
        for day in range(7)
    )
    await session.flush()
    first = await materialize_all(session, now)
    assert 13 <= first <= 14  # today's 8:30 may be gone already
    assert await materialize_all(session, now) == 0
    assert await materialize_all(session, now + timedelta(days=1)) == 1
