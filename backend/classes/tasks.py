"""Periodic class work: materialize the timetable, remind members before their class,
and settle attendance (no-shows) after it. Each is idempotent: running twice, or on two
workers at once, does the work once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.policy import policy_of
from backend.checkins.models import CheckIn
from backend.classes import messages
from backend.classes.models import ClassBooking, ClassSession, ClassType
from backend.classes.schedule import materialize_all
from backend.classes.service import ClassRules, class_rules
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.notify import quiet_since

# Reminders look this far ahead at most (a lead of up to a day, moved before the night's
# quiet hours); each gym's own lead time is applied after.
MAX_REMINDER_LEAD = timedelta(hours=48)
# A reminder due inside the gym's quiet hours (an early class) goes out this long before
# they begin, the evening before, instead of waking the member up.
BEFORE_QUIET = timedelta(minutes=30)
# Attendance of sessions older than this is left alone (the job was down for long).
ATTENDANCE_LOOKBACK = timedelta(days=7)

__all__ = ["materialize_all", "record_no_shows", "send_class_reminders"]


def reminder_due(starts_at: datetime, lead: timedelta, gym: Gym) -> datetime:
    """`lead` before the class; when that falls in the gym's quiet hours (a 6 a.m. class),
    the evening before they begin."""
    due = starts_at - lead
    policy = policy_of(gym.billing_settings)
    tz = ZoneInfo(gym.timezone)
    began = quiet_since(due, tz, policy.quiet_start_hour, policy.quiet_end_hour)
    return due if began is None else began - BEFORE_QUIET


async def send_class_reminders(session: AsyncSession, now: datetime) -> int:
    """Queue one reminder per booked seat when it is due (`reminder_due`: the gym's lead
    time, 2 hours by default, before the class). A seat taken after that gets none: the
    booking confirmation just said it all."""
    query = (
        select(ClassBooking, ClassSession)
        .join(ClassSession, ClassSession.id == ClassBooking.session_id)
        .where(
            ClassBooking.status == "booked",
            ClassBooking.reminded_at.is_(None),
            ClassSession.status == "scheduled",
            ClassSession.starts_at > now,
            ClassSession.starts_at <= now + MAX_REMINDER_LEAD,
        )
        .order_by(ClassSession.starts_at, ClassBooking.id)
    )
    if session.bind.dialect.name == "postgresql":
        # Two workers at once never remind the same seat twice.
        query = query.with_for_update(of=ClassBooking, skip_locked=True)
    rows = (await session.execute(query)).all()
    sent = 0
    rules_by_gym: dict[int, ClassRules] = {}
    for booking, cs in rows:
        if cs.gym_id not in rules_by_gym:
            rules_by_gym[cs.gym_id] = await class_rules(session, cs.gym_id)
        rules = rules_by_gym[cs.gym_id]
        gym = await session.get(Gym, cs.gym_id)
        assert gym is not None
        due_at = reminder_due(cs.starts_at, rules.reminder_before, gym)
        if now < due_at:
            continue
        booking.reminded_at = now
        if booking.booked_at is not None and booking.booked_at >= due_at:
            continue
        await _remind(session, booking, cs, rules, now)
        sent += 1
    await session.flush()
    return sent


async def _remind(
    session: AsyncSession,
    booking: ClassBooking,
    cs: ClassSession,
    rules: ClassRules,
    now: datetime,
) -> None:
    gym = await session.get(Gym, cs.gym_id)
    member = await session.get(Member, booking.member_id)
    class_type = await session.get(ClassType, cs.class_type_id)
    location = await session.get(Location, cs.location_id)
    assert gym is not None and member is not None and class_type is not None
    lang = member.locale if member.locale in messages.TEXTS else "es"
    tz = ZoneInfo(gym.timezone)
    local = cs.starts_at.astimezone(tz)
    # Sent the evening before (quiet hours): the text says "tomorrow", not "today".
    kind = (
        "class_reminder" if local.date() == now.astimezone(tz).date() else "class_reminder_tomorrow"
    )
    instructor = messages.text(lang, "with", name=cs.instructor_name) if cs.instructor_name else ""
    values = {
        "cls": class_type.name,
        "time": messages.clock(local, lang),
        "location": location.name if location else "",
    }
    await messages.notify_member(
        session,
        gym=gym,
        member=member,
        body=messages.text(lang, kind, **values, instructor=instructor),
        now=now,
        template_sid=rules.template(kind),
        template_values={"1": values["cls"], "2": values["time"], "3": values["location"]},
    )


async def record_no_shows(session: AsyncSession, now: datetime) -> int:
    """After each session ends, settle its seats: a check-in at its location from a little
    before the start until the end counts as attended; otherwise a no-show, recorded in
    member_events (retention reads it). Members still waiting in line leave the list.
    Returns the number of no-shows recorded."""
    query = (
        select(ClassSession)
        .where(
            ClassSession.status == "scheduled",
            ClassSession.attendance_closed_at.is_(None),
            ClassSession.ends_at <= now,
            ClassSession.ends_at > now - ATTENDANCE_LOOKBACK,
        )
        .order_by(ClassSession.ends_at)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    sessions = (await session.scalars(query)).all()
    no_shows = 0
    for cs in sessions:
        rules = await class_rules(session, cs.gym_id)
        bookings = (
            await session.scalars(
                select(ClassBooking).where(
                    ClassBooking.session_id == cs.id,
                    ClassBooking.status.in_(("booked", "waitlisted")),
                )
            )
        ).all()
        for booking in bookings:
            if booking.status == "waitlisted":
                booking.status, booking.canceled_at = "canceled", now
                booking.cancel_reason, booking.waitlist_position = "waitlist_expired", None
                continue
            came = await session.scalar(
                select(CheckIn.checked_in_at)
                .where(
                    CheckIn.gym_id == cs.gym_id,
                    CheckIn.member_id == booking.member_id,
                    CheckIn.location_id == cs.location_id,
                    CheckIn.checked_in_at >= cs.starts_at - rules.checkin_early,
                    CheckIn.checked_in_at <= cs.ends_at,
                )
                .limit(1)
            )
            data = {"session_id": cs.id, "class_type_id": cs.class_type_id}
            if came is not None:
                booking.status, booking.attendance_at = "attended", came
                await record_event(
                    session, cs.gym_id, booking.member_id, "class_attended", data, cs.starts_at
                )
                continue
            booking.status, booking.attendance_at = "no_show", now
            no_shows += 1
            await record_event(
                session, cs.gym_id, booking.member_id, "class_no_show", data, cs.ends_at
            )
            await audit(
                session, cs.gym_id, "system", "class.no_show", "class_booking", booking.id, data
            )
        cs.attendance_closed_at = now
    await session.flush()
    return no_shows
