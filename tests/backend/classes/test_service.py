"""Booking classes: access, credits, capacity, waitlist promotion, cut-off, overlaps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.classes.models import ClassBooking, ClassSettings
from backend.classes.service import (
    AlreadyBooked,
    ClassFull,
    NoClassAccess,
    NoClassCredits,
    OverlappingBooking,
    SessionClosed,
    book,
    cancel_booking,
    mark_attendance,
    upcoming_bookings,
)
from backend.errors import NotFound
from backend.members.models import AuditEntry, MemberEvent
from backend.messaging.models import OutboxMessage
from backend.types import utcnow
from tests.factories import (
    make_class_session,
    make_class_type,
    make_member,
    make_second_gym,
    make_subscription,
    standard_gym,
)


async def outbox(session: AsyncSession) -> list[OutboxMessage]:
    return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_booking_takes_a_seat_and_a_credit(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    spinning = await make_class_type(session, gym)
    cs = await make_class_session(session, spinning, centro)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 3
    now = utcnow()

    outcome = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)

    assert outcome.booking.status == "booked"
    assert outcome.credits_left == 2
    assert sub.class_credits_remaining == 2
    assert outcome.booking.credit_subscription_id == sub.id
    kinds = set(await session.scalars(select(MemberEvent.kind)))
    assert "class_booked" in kinds
    assert await session.scalar(select(AuditEntry).where(AuditEntry.action == "class.booked"))
    with pytest.raises(AlreadyBooked):
        await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    mine = await upcoming_bookings(session, gym.id, ana.id, now)
    assert [m.class_session.id for m in mine] == [cs.id]


async def test_unlimited_plan_keeps_credits_none(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    outcome = await book(session, gym=gym, member=ana, session_id=cs.id, now=utcnow())
    assert outcome.credits_left is None and sub.class_credits_remaining is None
    assert outcome.booking.credit_subscription_id is None


async def test_no_credits_left_is_refused(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 0
    with pytest.raises(NoClassCredits):
        await book(session, gym=gym, member=ana, session_id=cs.id, now=utcnow())


async def test_eligibility_plan_location_and_membership(session: AsyncSession) -> None:
    gym, centro, norte, premium, basico = await standard_gym(session)
    yoga_premium_only = await make_class_type(session, gym, "Yoga", plans=[premium])
    box = await make_class_type(session, gym, "Box")
    yoga = await make_class_session(session, yoga_premium_only, centro)
    box_norte = await make_class_session(session, box, norte)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis")
    await make_subscription(session, luis, basico)  # Básico: centro only
    now = utcnow()
    with pytest.raises(NoClassAccess) as plan_refusal:
        await book(session, gym=gym, member=luis, session_id=yoga.id, now=now)
    assert plan_refusal.value.reason == "plan_not_eligible"
    with pytest.raises(NoClassAccess) as place_refusal:
        await book(session, gym=gym, member=luis, session_id=box_norte.id, now=now)
    assert place_refusal.value.reason == "location_not_covered"

    nobody = await make_member(session, gym, phone="+525511111111", name="Sin Plan")
    with pytest.raises(NoClassAccess) as none:
        await book(session, gym=gym, member=nobody, session_id=box_norte.id, now=now)
    assert none.value.reason == "no_membership"
    suspended = await make_member(session, gym, phone="+525522222222", name="Suspendido")
    await make_subscription(session, suspended, premium, status="suspended")
    with pytest.raises(NoClassAccess):
        await book(session, gym=gym, member=suspended, session_id=box_norte.id, now=now)
    late_payer = await make_member(session, gym, phone="+525533333333", name="Debe")
    await make_subscription(session, late_payer, premium, status="past_due")
    ok = await book(session, gym=gym, member=late_payer, session_id=yoga.id, now=now)
    assert ok.booking.status == "booked"


async def test_full_class_refuses_or_waitlists_in_order(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, capacity=1)
    members = []
    for i in range(3):
        m = await make_member(session, gym, phone=f"+52550000000{i}", name=f"M{i}")
        await make_subscription(session, m, premium)
        members.append(m)
    now = utcnow()
    await book(session, gym=gym, member=members[0], session_id=cs.id, now=now)
    with pytest.raises(ClassFull):
        await book(session, gym=gym, member=members[1], session_id=cs.id, now=now)
    second = await book(
        session, gym=gym, member=members[1], session_id=cs.id, now=now, waitlist=True
    )
    third = await book(
        session, gym=gym, member=members[2], session_id=cs.id, now=now, waitlist=True
    )
    assert (second.booking.status, second.waitlist_place) == ("waitlisted", 1)
    assert (third.booking.status, third.waitlist_place) == ("waitlisted", 2)


async def test_cancel_promotes_the_first_in_line_and_tells_them(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, capacity=1)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis", locale="en")
    luis_sub = await make_subscription(session, luis, premium)
    luis_sub.class_credits_remaining = 4
    sofia = await make_member(session, gym, phone="+525599999999", name="Sofía")
    await make_subscription(session, sofia, premium)
    now = utcnow()
    mine = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    await book(session, gym=gym, member=luis, session_id=cs.id, now=now, waitlist=True)
    await book(session, gym=gym, member=sofia, session_id=cs.id, now=now, waitlist=True)

    outcome = await cancel_booking(
        session, gym=gym, member=ana, booking_id=mine.booking.id, now=now
    )

    assert outcome.booking.status == "canceled" and not outcome.late
    statuses = dict(
        (await session.execute(select(ClassBooking.member_id, ClassBooking.status))).all()
    )
    assert statuses == {ana.id: "canceled", luis.id: "booked", sofia.id: "waitlisted"}
    assert luis_sub.class_credits_remaining == 3
    [sent] = await outbox(session)
    assert sent.member_id == luis.id and "A spot opened up" in sent.body
    assert "Spinning" in sent.body and "3 classes left" in sent.body
    assert sent.purpose == "transactional"
    assert await session.scalar(select(AuditEntry).where(AuditEntry.action == "class.promoted"))


async def test_promotion_skips_a_member_without_credits(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro, capacity=1)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    broke = await make_member(session, gym, phone="+525587654321", name="Sin Clases")
    broke_sub = await make_subscription(session, broke, premium)
    broke_sub.class_credits_remaining = 1
    sofia = await make_member(session, gym, phone="+525599999999", name="Sofía")
    await make_subscription(session, sofia, premium)
    now = utcnow()
    mine = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    await book(session, gym=gym, member=broke, session_id=cs.id, now=now, waitlist=True)
    await book(session, gym=gym, member=sofia, session_id=cs.id, now=now, waitlist=True)
    broke_sub.class_credits_remaining = 0  # spent elsewhere meanwhile

    await cancel_booking(session, gym=gym, member=ana, booking_id=mine.booking.id, now=now)

    statuses = dict(
        (await session.execute(select(ClassBooking.member_id, ClassBooking.status))).all()
    )
    assert statuses[broke.id] == "canceled" and statuses[sofia.id] == "booked"
    bodies = {m.member_id: m.body for m in await outbox(session)}
    assert "no pude dártelo" in bodies[broke.id]
    assert "ya estás dentro" in bodies[sofia.id]


async def test_credit_comes_back_only_before_the_cutoff(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    spinning = await make_class_type(session, gym)
    now = utcnow()
    soon = await make_class_session(session, spinning, centro, starts_at=now + timedelta(hours=1))
    later = await make_class_session(session, spinning, centro, starts_at=now + timedelta(hours=5))
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 5
    a = await book(session, gym=gym, member=ana, session_id=soon.id, now=now)
    b = await book(session, gym=gym, member=ana, session_id=later.id, now=now)
    assert sub.class_credits_remaining == 3

    late = await cancel_booking(session, gym=gym, member=ana, booking_id=a.booking.id, now=now)
    assert late.late and not late.credit_returned
    await session.refresh(sub)
    assert sub.class_credits_remaining == 3
    early = await cancel_booking(session, gym=gym, member=ana, booking_id=b.booking.id, now=now)
    assert not early.late and early.credit_returned
    await session.refresh(sub)
    assert sub.class_credits_remaining == 4


async def test_cutoff_is_configurable_per_gym(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    session.add(ClassSettings(gym_id=gym.id, cancel_cutoff_minutes=30))
    now = utcnow()
    cs = await make_class_session(
        session, await make_class_type(session, gym), centro, starts_at=now + timedelta(hours=1)
    )
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 1
    mine = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    out = await cancel_booking(session, gym=gym, member=ana, booking_id=mine.booking.id, now=now)
    assert out.credit_returned and not out.late


async def test_started_or_canceled_sessions_cannot_be_booked(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    spinning = await make_class_type(session, gym)
    now = utcnow()
    past = await make_class_session(session, spinning, centro, starts_at=now - timedelta(minutes=5))
    canceled = await make_class_session(session, spinning, centro)
    canceled.status = "canceled"
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    with pytest.raises(SessionClosed):
        await book(session, gym=gym, member=ana, session_id=past.id, now=now)
    with pytest.raises(SessionClosed) as exc:
        await book(session, gym=gym, member=ana, session_id=canceled.id, now=now)
    assert exc.value.canceled


async def test_two_classes_at_the_same_time_are_refused(session: AsyncSession) -> None:
    gym, centro, norte, premium, _ = await standard_gym(session)
    at = utcnow() + timedelta(days=1)
    spin = await make_class_session(session, await make_class_type(session, gym), centro, at)
    yoga = await make_class_session(
        session, await make_class_type(session, gym, "Yoga"), norte, at + timedelta(minutes=30)
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await book(session, gym=gym, member=ana, session_id=spin.id, now=utcnow())
    with pytest.raises(OverlappingBooking):
        await book(session, gym=gym, member=ana, session_id=yoga.id, now=utcnow())


async def test_rebooking_after_cancel_reuses_the_row(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    now = utcnow()
    first = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    await cancel_booking(session, gym=gym, member=ana, booking_id=first.booking.id, now=now)
    again = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    assert again.booking.id == first.booking.id and again.booking.status == "booked"


async def test_other_gyms_session_is_not_found(session: AsyncSession) -> None:
    gym, centro, _, _, _ = await standard_gym(session)
    cs = await make_class_session(session, await make_class_type(session, gym), centro)
    other = await make_second_gym(session)
    stranger = await make_member(session, other)
    with pytest.raises(NotFound):
        await book(session, gym=other, member=stranger, session_id=cs.id, now=utcnow())


async def test_staff_mark_attendance_after_start(session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    now = utcnow()
    cs = await make_class_session(
        session, await make_class_type(session, gym), centro, starts_at=now + timedelta(hours=3)
    )
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    mine = await book(session, gym=gym, member=ana, session_id=cs.id, now=now)
    later = now + timedelta(hours=3, minutes=10)
    marked = await mark_attendance(
        session,
        gym=gym,
        session_id=cs.id,
        booking_id=mine.booking.id,
        status="no_show",
        now=later,
        actor="staff:1",
    )
    assert marked.status == "no_show"
    assert "class_no_show" in set(await session.scalars(select(MemberEvent.kind)))
