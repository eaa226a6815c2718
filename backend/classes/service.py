"""Booking classes: who may book, seats under concurrency, class credits, the waitlist,
cancellations up to the cut-off, and attendance.

Capacity is enforced by locking the session row (`SELECT … FOR UPDATE` on PostgreSQL;
SQLite serializes writers with BEGIN IMMEDIATE) before counting its seats, so two members
can never take the last seat twice. Services take the session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import ACCESS_STATUSES, Subscription
from backend.billing.service import Holding, current_holding, plan_covers
from backend.classes import messages
from backend.classes.models import (
    ACTIVE_BOOKING_STATUSES,
    ClassBooking,
    ClassSession,
    ClassSettings,
    ClassType,
    class_type_plans,
)
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.members.service import audit, record_event

# --- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassRules:
    """A gym's class settings, with the defaults for a gym that set none."""

    cancel_cutoff: timedelta = timedelta(hours=2)
    reminder_before: timedelta = timedelta(hours=2)
    horizon_days: int = 14
    checkin_early: timedelta = timedelta(minutes=60)
    templates: tuple[tuple[str, str], ...] = ()

    def template(self, kind: str) -> str | None:
        return dict(self.templates).get(kind)


async def class_rules(session: AsyncSession, gym_id: int) -> ClassRules:
    row = await session.get(ClassSettings, gym_id)
    if row is None:
        return ClassRules()
    return ClassRules(
        cancel_cutoff=timedelta(minutes=row.cancel_cutoff_minutes),
        reminder_before=timedelta(minutes=row.reminder_minutes),
        horizon_days=row.horizon_days,
        checkin_early=timedelta(minutes=row.checkin_early_minutes),
        templates=tuple(sorted((str(k), str(v)) for k, v in (row.templates or {}).items())),
    )


# --- errors (each becomes a friendly chat reply or a bilingual API error) -----------------


class SessionClosed(Conflict):
    code = "session_closed"

    def __init__(self, canceled: bool) -> None:
        if canceled:
            super().__init__("Esta clase fue cancelada.", "This class was canceled.")
        else:
            super().__init__("Esta clase ya empezó o terminó.", "This class already started.")
        self.canceled = canceled


class ClassFull(Conflict):
    code = "class_full"

    def __init__(self, waitlisted: int) -> None:
        super().__init__("La clase está llena.", "The class is full.", {"waitlisted": waitlisted})
        self.waitlisted = waitlisted


class AlreadyBooked(Conflict):
    code = "already_booked"

    def __init__(self, booking: ClassBooking) -> None:
        super().__init__(
            "Ya tienes lugar (o estás en lista de espera) en esta clase.",
            "You already have a spot (or a waitlist place) in this class.",
            {"booking_id": booking.id, "status": booking.status},
        )
        self.booking = booking


class OverlappingBooking(Conflict):
    code = "overlapping_booking"

    def __init__(self, other: ClassSession) -> None:
        super().__init__(
            "Ya tienes otra clase reservada a esa hora.",
            "You already booked another class at that time.",
            {"session_id": other.id},
        )
        self.other = other


class NoClassAccess(Forbidden):
    """reason: no_membership | plan_not_eligible | location_not_covered."""

    code = "no_class_access"

    def __init__(self, reason: str, plan_name: str | None = None) -> None:
        super().__init__(
            "Tu membresía no incluye esta clase.",
            "Your membership does not include this class.",
            {"reason": reason},
        )
        self.reason = reason
        self.plan_name = plan_name


class NoClassCredits(Conflict):
    code = "no_class_credits"

    def __init__(self) -> None:
        super().__init__(
            "Ya no te quedan clases en este periodo.", "You have no class credits left."
        )


class BookingNotActive(Conflict):
    code = "booking_not_active"

    def __init__(self) -> None:
        super().__init__("Esa reserva ya no está activa.", "That booking is no longer active.")


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seats:
    booked: int = 0
    waitlisted: int = 0


async def seat_counts(session: AsyncSession, session_ids: Sequence[int]) -> dict[int, Seats]:
    """Booked and waitlisted counts per session ("booked" includes attended/no-shows)."""
    if not session_ids:
        return {}
    rows = await session.execute(
        select(ClassBooking.session_id, ClassBooking.status, func.count())
        .where(ClassBooking.session_id.in_(session_ids))
        .group_by(ClassBooking.session_id, ClassBooking.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for sid, status, n in rows.all():
        counts.setdefault(sid, {})[status] = n
    return {
        sid: Seats(
            booked=c.get("booked", 0) + c.get("attended", 0) + c.get("no_show", 0),
            waitlisted=c.get("waitlisted", 0),
        )
        for sid, c in counts.items()
    }


async def lock_session(session: AsyncSession, gym_id: int, session_id: int) -> ClassSession:
    """The session row, locked until the transaction ends; NotFound outside this gym."""
    found = await session.scalar(
        select(ClassSession)
        .where(ClassSession.id == session_id, ClassSession.gym_id == gym_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound("No encontré esa clase.", "Class session not found.")
    return found


async def eligible_plan_ids(session: AsyncSession, class_type_id: int) -> list[int]:
    rows = await session.scalars(
        select(class_type_plans.c.plan_id).where(class_type_plans.c.class_type_id == class_type_id)
    )
    return list(rows.all())


async def check_access(
    session: AsyncSession,
    member: Member,
    class_session: ClassSession,
    class_type: ClassType,
    now: datetime,
) -> Holding:
    """The holding that lets `member` take this class; NoClassAccess otherwise."""
    holding = await current_holding(session, member.id)
    if (
        holding is None
        or holding.subscription.status not in ACCESS_STATUSES
        or holding.subscription.current_period_end <= now
    ):
        raise NoClassAccess("no_membership")
    if not class_type.all_plans and holding.plan.id not in await eligible_plan_ids(
        session, class_type.id
    ):
        raise NoClassAccess("plan_not_eligible", holding.plan.name)
    if not await plan_covers(session, holding.plan, class_session.location_id):
        raise NoClassAccess("location_not_covered", holding.plan.name)
    return holding


async def _take_credit(session: AsyncSession, subscription: Subscription) -> int | None:
    """Use one class credit; returns what is left (None: unlimited). Atomic, so two
    bookings at once cannot both spend the last credit."""
    if subscription.class_credits_remaining is None:
        return None
    await session.flush()  # pending edits to the row first: the UPDATE below reads it
    left = await session.scalar(
        update(Subscription)
        .where(Subscription.id == subscription.id, Subscription.class_credits_remaining > 0)
        .values(class_credits_remaining=Subscription.class_credits_remaining - 1)
        .returning(Subscription.class_credits_remaining)
        .execution_options(synchronize_session=False)
    )
    if left is None:
        raise NoClassCredits()
    await session.refresh(subscription, ["class_credits_remaining"])
    return int(left)


async def give_credit_back(session: AsyncSession, subscription_id: int) -> None:
    await session.flush()
    await session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription_id,
            Subscription.class_credits_remaining.is_not(None),
        )
        .values(class_credits_remaining=Subscription.class_credits_remaining + 1)
        .execution_options(synchronize_session=False)
    )


def _credits_ok(holding: Holding) -> bool:
    left = holding.subscription.class_credits_remaining
    return left is None or left > 0


# --- booking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingOutcome:
    booking: ClassBooking
    class_session: ClassSession
    class_type: ClassType
    credits_left: int | None  # None: unlimited (or not taken yet, when waitlisted)
    waitlist_place: int | None  # 1-based place in line when waitlisted


async def book(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    session_id: int,
    now: datetime,
    waitlist: bool = False,
    actor: str | None = None,
    source: str = "chat",
) -> BookingOutcome:
    """Give `member` a seat in the session, or a place in its waitlist when it is full and
    `waitlist` is true (ClassFull otherwise). Uses a class credit for a seat."""
    cs = await lock_session(session, gym.id, session_id)
    if cs.status != "scheduled" or cs.starts_at <= now:
        raise SessionClosed(cs.status == "canceled")
    class_type = await session.get(ClassType, cs.class_type_id)
    assert class_type is not None
    existing = await session.scalar(
        select(ClassBooking).where(
            ClassBooking.session_id == cs.id, ClassBooking.member_id == member.id
        )
    )
    if existing is not None and existing.status in ACTIVE_BOOKING_STATUSES:
        raise AlreadyBooked(existing)
    other = await overlapping_session(session, member, cs)
    if other is not None:
        raise OverlappingBooking(other)
    holding = await check_access(session, member, cs, class_type, now)
    if not _credits_ok(holding):
        raise NoClassCredits()

    seats = (await seat_counts(session, [cs.id])).get(cs.id, Seats())
    booking = existing or ClassBooking(gym_id=gym.id, session_id=cs.id, member_id=member.id)
    booking.source, booking.canceled_at, booking.cancel_reason = source, None, None
    booking.reminded_at, booking.attendance_at, booking.promoted_at = None, None, None
    credits_left: int | None = None
    place: int | None = None
    if seats.booked < cs.capacity:
        credits_left = await _take_credit(session, holding.subscription)
        booking.status, booking.booked_at, booking.waitlist_position = "booked", now, None
        booking.credit_subscription_id = (
            holding.subscription.id if credits_left is not None else None
        )
    elif waitlist:
        last = await session.scalar(
            select(func.max(ClassBooking.waitlist_position)).where(ClassBooking.session_id == cs.id)
        )
        booking.status, booking.booked_at = "waitlisted", None
        booking.waitlist_position = (last or 0) + 1
        booking.credit_subscription_id = None
        place = seats.waitlisted + 1
    else:
        raise ClassFull(seats.waitlisted)
    if existing is None:
        session.add(booking)
    await session.flush()
    data = {"session_id": cs.id, "class": class_type.name, "status": booking.status}
    await record_event(session, gym.id, member.id, f"class_{booking.status}", data, now)
    await audit(
        session,
        gym.id,
        actor or f"member:{member.id}",
        f"class.{booking.status}",
        "class_booking",
        booking.id,
        data | {"credits_left": credits_left},
    )
    return BookingOutcome(booking, cs, class_type, credits_left, place)


async def overlapping_session(
    session: AsyncSession, member: Member, cs: ClassSession
) -> ClassSession | None:
    """Another session the member holds a seat in that overlaps this one in time."""
    return await session.scalar(
        select(ClassSession)
        .join(ClassBooking, ClassBooking.session_id == ClassSession.id)
        .where(
            ClassBooking.member_id == member.id,
            ClassBooking.status == "booked",
            ClassSession.id != cs.id,
            ClassSession.status == "scheduled",
            ClassSession.starts_at < cs.ends_at,
            ClassSession.ends_at > cs.starts_at,
        )
        .limit(1)
    )


async def waitlist_place(session: AsyncSession, booking: ClassBooking) -> int | None:
    """1-based place in line of a waitlisted booking."""
    if booking.status != "waitlisted" or booking.waitlist_position is None:
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            ClassBooking.session_id == booking.session_id,
            ClassBooking.status == "waitlisted",
            ClassBooking.waitlist_position < booking.waitlist_position,
        )
    )
    return int(ahead or 0) + 1


# --- cancelling ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelOutcome:
    booking: ClassBooking
    class_session: ClassSession
    class_type: ClassType
    was_waitlisted: bool
    credit_returned: bool
    late: bool  # after the cut-off: the seat is freed but the credit is kept


def cancel_deadline(cs: ClassSession, rules: ClassRules) -> datetime:
    return cs.starts_at - rules.cancel_cutoff


async def cancel_booking(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    booking_id: int,
    now: datetime,
    actor: str | None = None,
) -> CancelOutcome:
    """Free the member's seat (credit back before the cut-off) or leave the waitlist; the
    freed seat goes to the next member in line, who is told on WhatsApp."""
    booking = await session.scalar(
        select(ClassBooking).where(
            ClassBooking.id == booking_id,
            ClassBooking.gym_id == gym.id,
            ClassBooking.member_id == member.id,
        )
    )
    if booking is None:
        raise NotFound("No encontré esa reserva.", "Booking not found.")
    cs = await lock_session(session, gym.id, booking.session_id)
    await session.refresh(booking)
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        raise BookingNotActive()
    if cs.starts_at <= now:
        raise SessionClosed(False)
    class_type = await session.get(ClassType, cs.class_type_id)
    assert class_type is not None
    rules = await class_rules(session, gym.id)
    was_waitlisted = booking.status == "waitlisted"
    late = not was_waitlisted and now > cancel_deadline(cs, rules)
    credit_returned = False
    if not was_waitlisted and not late and booking.credit_subscription_id is not None:
        await give_credit_back(session, booking.credit_subscription_id)
        credit_returned = True
    booking.status, booking.canceled_at = "canceled", now
    booking.cancel_reason = "member_late" if late else "member"
    booking.waitlist_position = None
    await session.flush()
    data = {
        "session_id": cs.id,
        "class": class_type.name,
        "late": late,
        "credit_returned": credit_returned,
        "was_waitlisted": was_waitlisted,
    }
    await record_event(session, gym.id, member.id, "class_canceled", data, now)
    await audit(
        session,
        gym.id,
        actor or f"member:{member.id}",
        "class.canceled",
        "class_booking",
        booking.id,
        data,
    )
    if not was_waitlisted:
        await promote_waitlist(session, gym, cs, class_type, now)
    return CancelOutcome(booking, cs, class_type, was_waitlisted, credit_returned, late)


async def promote_waitlist(
    session: AsyncSession, gym: Gym, cs: ClassSession, class_type: ClassType, now: datetime
) -> list[ClassBooking]:
    """Fill free seats from the waitlist, first in line first, and tell each member. The
    caller holds the session row lock. A member who can no longer book is skipped (and
    told why)."""
    if cs.status != "scheduled" or cs.starts_at <= now:
        return []
    promoted: list[ClassBooking] = []
    tz = ZoneInfo(gym.timezone)
    location = await session.get(Location, cs.location_id)
    rules = await class_rules(session, gym.id)
    while True:
        seats = (await seat_counts(session, [cs.id])).get(cs.id, Seats())
        if seats.booked >= cs.capacity:
            break
        nxt = await session.scalar(
            select(ClassBooking)
            .where(ClassBooking.session_id == cs.id, ClassBooking.status == "waitlisted")
            .order_by(ClassBooking.waitlist_position, ClassBooking.id)
            .limit(1)
        )
        if nxt is None:
            break
        member = await session.get(Member, nxt.member_id)
        assert member is not None
        lang = member.locale if member.locale in messages.TEXTS else "es"
        values = {
            "cls": class_type.name,
            "when": messages.when(cs.starts_at, tz, lang),
            "location": location.name if location else "",
        }
        try:
            holding = await check_access(session, member, cs, class_type, now)
            left = await _take_credit(session, holding.subscription)
        except (NoClassAccess, NoClassCredits) as exc:
            nxt.status, nxt.canceled_at, nxt.waitlist_position = "canceled", now, None
            nxt.cancel_reason = "not_eligible"
            reason = "no_credits" if isinstance(exc, NoClassCredits) else "no_access"
            await messages.notify_member(
                session,
                gym=gym,
                member=member,
                body=messages.text(
                    lang,
                    "class_waitlist_dropped",
                    **values,
                    reason=messages.text(lang, reason),
                ),
                now=now,
            )
            await audit(
                session,
                gym.id,
                "system",
                "class.waitlist_skipped",
                "class_booking",
                nxt.id,
                {"session_id": cs.id, "reason": exc.code},
            )
            await session.flush()
            continue
        nxt.status, nxt.booked_at, nxt.promoted_at = "booked", now, now
        nxt.waitlist_position = None
        nxt.credit_subscription_id = holding.subscription.id if left is not None else None
        await session.flush()
        credits = messages.text(lang, "credits_left", n=left) if left is not None else ""
        await messages.notify_member(
            session,
            gym=gym,
            member=member,
            body=messages.text(lang, "class_promoted", **values, credits=credits),
            now=now,
            template_sid=rules.template("class_promoted"),
            template_values={"1": values["cls"], "2": values["when"], "3": values["location"]},
        )
        data = {"session_id": cs.id, "class": class_type.name, "credits_left": left}
        await record_event(session, gym.id, member.id, "class_promoted", data, now)
        await audit(session, gym.id, "system", "class.promoted", "class_booking", nxt.id, data)
        promoted.append(nxt)
    return promoted


# --- the member's bookings -------------------------------------------------------------------


@dataclass(frozen=True)
class MemberBooking:
    booking: ClassBooking
    class_session: ClassSession
    class_type: ClassType
    location: Location


async def upcoming_bookings(
    session: AsyncSession, gym_id: int, member_id: int, now: datetime
) -> list[MemberBooking]:
    """The member's booked and waitlisted sessions that have not started, soonest first."""
    rows = await session.execute(
        select(ClassBooking, ClassSession, ClassType, Location)
        .join(ClassSession, ClassSession.id == ClassBooking.session_id)
        .join(ClassType, ClassType.id == ClassSession.class_type_id)
        .join(Location, Location.id == ClassSession.location_id)
        .where(
            ClassBooking.gym_id == gym_id,
            ClassBooking.member_id == member_id,
            ClassBooking.status.in_(ACTIVE_BOOKING_STATUSES),
            ClassSession.status == "scheduled",
            ClassSession.starts_at > now,
        )
        .order_by(ClassSession.starts_at)
    )
    return [MemberBooking(*row) for row in rows.all()]


# --- attendance ------------------------------------------------------------------------------

ATTENDANCE_STATUSES = ("attended", "no_show")


async def mark_attendance(
    session: AsyncSession,
    *,
    gym: Gym,
    session_id: int,
    booking_id: int,
    status: str,
    now: datetime,
    actor: str,
) -> ClassBooking:
    """Staff record that a booked member came (or did not) once the class has started."""
    if status not in ATTENDANCE_STATUSES:
        raise DomainError(
            "Estado de asistencia inválido.", "Invalid attendance status.", {"status": status}
        )
    cs = await lock_session(session, gym.id, session_id)
    booking = await session.scalar(
        select(ClassBooking).where(
            ClassBooking.id == booking_id,
            ClassBooking.session_id == cs.id,
            ClassBooking.gym_id == gym.id,
        )
    )
    if booking is None:
        raise NotFound("No encontré esa reserva.", "Booking not found.")
    if cs.starts_at > now:
        raise Conflict(
            "La clase aún no empieza.", "The class has not started yet.", {"session_id": cs.id}
        )
    if booking.status not in ("booked", "attended", "no_show"):
        raise BookingNotActive()
    previous = booking.status
    booking.status, booking.attendance_at = status, now
    await session.flush()
    if previous != status:
        kind = "class_no_show" if status == "no_show" else "class_attended"
        await record_event(
            session, gym.id, booking.member_id, kind, {"session_id": cs.id, "by": actor}, now
        )
    await audit(
        session,
        gym.id,
        actor,
        "class.attendance_marked",
        "class_booking",
        booking.id,
        {"session_id": cs.id, "from": previous, "to": status},
    )
    return booking
