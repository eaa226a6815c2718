"""The class catalog and timetable staff manage: class types, recurring weekly schedules,
the sessions materialized from them, and one-off changes (move, instructor, capacity,
cancel) that tell the members concerned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan
from backend.classes import messages
from backend.classes.models import (
    ACTIVE_BOOKING_STATUSES,
    ClassBooking,
    ClassSchedule,
    ClassSession,
    ClassType,
    class_type_plans,
)
from backend.classes.service import (
    Seats,
    class_rules,
    give_credit_back,
    lock_session,
    promote_waitlist,
    seat_counts,
)
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import Member
from backend.members.service import audit

# --- lookups scoped to the gym -------------------------------------------------------------


async def get_class_type(session: AsyncSession, gym_id: int, class_type_id: int) -> ClassType:
    found = await session.scalar(
        select(ClassType).where(ClassType.id == class_type_id, ClassType.gym_id == gym_id)
    )
    if found is None:
        raise NotFound("No encontré ese tipo de clase.", "Class type not found.")
    return found


async def get_schedule(session: AsyncSession, gym_id: int, schedule_id: int) -> ClassSchedule:
    found = await session.scalar(
        select(ClassSchedule).where(ClassSchedule.id == schedule_id, ClassSchedule.gym_id == gym_id)
    )
    if found is None:
        raise NotFound("No encontré ese horario.", "Schedule not found.")
    return found


async def get_session(session: AsyncSession, gym_id: int, session_id: int) -> ClassSession:
    found = await session.scalar(
        select(ClassSession).where(ClassSession.id == session_id, ClassSession.gym_id == gym_id)
    )
    if found is None:
        raise NotFound("No encontré esa clase.", "Class session not found.")
    return found


async def _location(session: AsyncSession, gym_id: int, location_id: int) -> Location:
    found = await session.scalar(
        select(Location).where(Location.id == location_id, Location.gym_id == gym_id)
    )
    if found is None:
        raise InvalidInput(
            "Esa sucursal no existe.", "Unknown location.", {"location_id": location_id}
        )
    return found


async def _instructor(
    session: AsyncSession, gym_id: int, instructor_id: int | None, name: str | None
) -> tuple[int | None, str | None]:
    """(staff id, display name): a trainer on the gym's staff, or just a name."""
    if instructor_id is None:
        return None, name
    staff = await session.scalar(
        select(StaffUser).where(StaffUser.id == instructor_id, StaffUser.gym_id == gym_id)
    )
    if staff is None or staff.role != "trainer":
        raise InvalidInput(
            "El instructor debe ser un entrenador del gym.",
            "The instructor must be one of the gym's trainers.",
            {"instructor_id": instructor_id},
        )
    return staff.id, name or staff.name


async def _check_plans(session: AsyncSession, gym_id: int, plan_ids: Sequence[int]) -> None:
    found = set(
        (
            await session.scalars(
                select(Plan.id).where(Plan.gym_id == gym_id, Plan.id.in_(plan_ids))
            )
        ).all()
    )
    missing = sorted(set(plan_ids) - found)
    if missing:
        raise InvalidInput("Planes desconocidos.", "Unknown plans.", {"plan_ids": missing})


# --- class types -----------------------------------------------------------------------------


async def list_class_types(
    session: AsyncSession, gym_id: int, active_only: bool = False
) -> list[ClassType]:
    stmt = select(ClassType).where(ClassType.gym_id == gym_id).order_by(ClassType.name)
    if active_only:
        stmt = stmt.where(ClassType.active.is_(True))
    return list((await session.scalars(stmt)).all())


async def _name_taken(
    session: AsyncSession, gym_id: int, name: str, except_id: int | None = None
) -> bool:
    stmt = select(ClassType.id).where(ClassType.gym_id == gym_id, ClassType.name == name)
    if except_id is not None:
        stmt = stmt.where(ClassType.id != except_id)
    return (await session.scalar(stmt)) is not None


async def create_class_type(
    session: AsyncSession,
    gym_id: int,
    *,
    name: str,
    description: str = "",
    duration_minutes: int = 60,
    default_capacity: int = 20,
    plan_ids: Sequence[int] | None = None,
    actor: str,
) -> ClassType:
    """A class the gym offers; `plan_ids` None means every plan may book it."""
    if await _name_taken(session, gym_id, name):
        raise Conflict("Ya existe una clase con ese nombre.", "A class with that name exists.")
    if plan_ids:
        await _check_plans(session, gym_id, plan_ids)
    class_type = ClassType(
        gym_id=gym_id,
        name=name,
        description=description,
        duration_minutes=duration_minutes,
        default_capacity=default_capacity,
        all_plans=plan_ids is None,
        active=True,
    )
    session.add(class_type)
    await session.flush()
    await _set_plans(session, class_type.id, plan_ids or [])
    await audit(
        session,
        gym_id,
        actor,
        "class_type.created",
        "class_type",
        class_type.id,
        {"name": name, "plan_ids": list(plan_ids) if plan_ids is not None else None},
    )
    return class_type


async def _set_plans(session: AsyncSession, class_type_id: int, plan_ids: Sequence[int]) -> None:
    await session.execute(
        delete(class_type_plans).where(class_type_plans.c.class_type_id == class_type_id)
    )
    if plan_ids:
        await session.execute(
            insert(class_type_plans),
            [{"class_type_id": class_type_id, "plan_id": p} for p in sorted(set(plan_ids))],
        )


async def update_class_type(
    session: AsyncSession,
    gym_id: int,
    class_type_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
) -> ClassType:
    """Apply the given fields; `plan_ids` None opens the class to every plan."""
    class_type = await get_class_type(session, gym_id, class_type_id)
    if "name" in changes and await _name_taken(session, gym_id, changes["name"], class_type.id):
        raise Conflict("Ya existe una clase con ese nombre.", "A class with that name exists.")
    for field in ("name", "description", "duration_minutes", "default_capacity", "active"):
        if field in changes:
            setattr(class_type, field, changes[field])
    if "plan_ids" in changes:
        plan_ids = changes["plan_ids"]
        if plan_ids:
            await _check_plans(session, gym_id, plan_ids)
        class_type.all_plans = plan_ids is None
        await _set_plans(session, class_type.id, plan_ids or [])
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "class_type.updated",
        "class_type",
        class_type.id,
        {k: v for k, v in changes.items()},
    )
    return class_type


# --- schedules -------------------------------------------------------------------------------


async def list_schedules(
    session: AsyncSession, gym_id: int, location_id: int | None = None
) -> list[ClassSchedule]:
    stmt = select(ClassSchedule).where(ClassSchedule.gym_id == gym_id)
    if location_id is not None:
        stmt = stmt.where(ClassSchedule.location_id == location_id)
    stmt = stmt.order_by(ClassSchedule.weekday, ClassSchedule.start_time, ClassSchedule.id)
    return list((await session.scalars(stmt)).all())


async def create_schedule(
    session: AsyncSession,
    gym: Gym,
    *,
    class_type_id: int,
    location_id: int,
    weekday: int,
    start_time: time,
    valid_from: date,
    valid_until: date | None = None,
    duration_minutes: int | None = None,
    capacity: int | None = None,
    instructor_id: int | None = None,
    instructor_name: str | None = None,
    actor: str,
    now: datetime,
) -> ClassSchedule:
    """A weekly slot; its sessions for the coming days are materialized at once."""
    await get_class_type(session, gym.id, class_type_id)
    await _location(session, gym.id, location_id)
    if valid_until is not None and valid_until < valid_from:
        raise InvalidInput(
            "La fecha final es anterior a la inicial.",
            "valid_until is before valid_from.",
            {"field": "valid_until"},
        )
    staff_id, name = await _instructor(session, gym.id, instructor_id, instructor_name)
    schedule = ClassSchedule(
        gym_id=gym.id,
        class_type_id=class_type_id,
        location_id=location_id,
        weekday=weekday,
        start_time=start_time,
        duration_minutes=duration_minutes,
        capacity=capacity,
        instructor_id=staff_id,
        instructor_name=name,
        valid_from=valid_from,
        valid_until=valid_until,
        active=True,
    )
    session.add(schedule)
    await session.flush()
    await audit(
        session,
        gym.id,
        actor,
        "class_schedule.created",
        "class_schedule",
        schedule.id,
        {
            "class_type_id": class_type_id,
            "location_id": location_id,
            "weekday": weekday,
            "start_time": start_time.isoformat(),
        },
    )
    await materialize_sessions(session, gym, now)
    return schedule


SCHEDULE_FIELDS = (
    "start_time",
    "duration_minutes",
    "capacity",
    "instructor_id",
    "instructor_name",
    "valid_until",
    "active",
)


async def update_schedule(
    session: AsyncSession,
    gym: Gym,
    schedule_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> ClassSchedule:
    """Change a weekly slot from now on: its future sessions not changed by hand follow
    (members booked into a moved session are told); sessions past a new end date, or of
    a deactivated slot, are removed (canceled, with notice, when someone booked)."""
    schedule = await get_schedule(session, gym.id, schedule_id)
    unknown = set(changes) - set(SCHEDULE_FIELDS)
    if unknown:
        raise InvalidInput(
            "Campos no editables.", "Fields not editable.", {"fields": sorted(unknown)}
        )
    if "instructor_id" in changes or "instructor_name" in changes:
        staff_id, name = await _instructor(
            session,
            gym.id,
            changes.get("instructor_id", schedule.instructor_id),
            changes.get("instructor_name"),
        )
        schedule.instructor_id, schedule.instructor_name = staff_id, name
    for field in ("start_time", "duration_minutes", "capacity", "valid_until", "active"):
        if field in changes:
            setattr(schedule, field, changes[field])
    if schedule.valid_until is not None and schedule.valid_until < schedule.valid_from:
        raise InvalidInput(
            "La fecha final es anterior a la inicial.",
            "valid_until is before valid_from.",
            {"field": "valid_until"},
        )
    await session.flush()
    await audit(
        session,
        gym.id,
        actor,
        "class_schedule.updated",
        "class_schedule",
        schedule.id,
        {k: (v.isoformat() if isinstance(v, date | time) else v) for k, v in changes.items()},
    )
    class_type = await get_class_type(session, gym.id, schedule.class_type_id)
    tz = ZoneInfo(gym.timezone)
    future = (
        await session.scalars(
            select(ClassSession).where(
                ClassSession.schedule_id == schedule.id,
                ClassSession.status == "scheduled",
                ClassSession.starts_at > now,
            )
        )
    ).all()
    for cs in future:
        ended = not schedule.active or (
            schedule.valid_until is not None and cs.occurs_on > schedule.valid_until
        )
        if ended:
            await _drop_session(session, gym, cs, "", actor, now)
            continue
        if cs.overridden:
            continue
        starts = datetime.combine(cs.occurs_on, schedule.start_time, tzinfo=tz)
        await change_session(
            session,
            gym,
            cs.id,
            {
                "starts_at": starts,
                "duration_minutes": schedule.duration_minutes or class_type.duration_minutes,
                "capacity": schedule.capacity or class_type.default_capacity,
                "instructor_id": schedule.instructor_id,
                "instructor_name": schedule.instructor_name,
            },
            actor=actor,
            now=now,
            override=False,
        )
    await materialize_sessions(session, gym, now)
    return schedule


async def _drop_session(
    session: AsyncSession, gym: Gym, cs: ClassSession, reason: str, actor: str, now: datetime
) -> None:
    """Delete a future session nobody booked; cancel (and notify) one with bookings."""
    has_bookings = await session.scalar(
        select(ClassBooking.id).where(ClassBooking.session_id == cs.id).limit(1)
    )
    if has_bookings is None:
        await session.delete(cs)
        await session.flush()
        return
    await cancel_session(session, gym, cs.id, reason=reason, actor=actor, now=now)


# --- materializing ---------------------------------------------------------------------------

# Rows per INSERT: well under SQLite's bound-parameter limit.
MATERIALIZE_CHUNK = 500


def occurrences(schedule: ClassSchedule, first: date, days: int) -> list[date]:
    """The local days in [first, first + days) on which the weekly slot happens."""
    found = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() != schedule.weekday or day < schedule.valid_from:
            continue
        if schedule.valid_until is not None and day > schedule.valid_until:
            continue
        found.append(day)
    return found


async def materialize_sessions(session: AsyncSession, gym: Gym, now: datetime) -> int:
    """Create the gym's sessions for the next `horizon_days` from its active schedules.
    Idempotent: a (schedule, day) pair that exists (moved or canceled included) is kept."""
    rules = await class_rules(session, gym.id)
    tz = ZoneInfo(gym.timezone)
    today = now.astimezone(tz).date()
    rows = await session.execute(
        select(ClassSchedule, ClassType)
        .join(ClassType, ClassType.id == ClassSchedule.class_type_id)
        .where(
            ClassSchedule.gym_id == gym.id,
            ClassSchedule.active.is_(True),
            ClassType.active.is_(True),
        )
    )
    values: list[dict[str, Any]] = []
    for schedule, class_type in rows.all():
        duration = timedelta(minutes=schedule.duration_minutes or class_type.duration_minutes)
        for day in occurrences(schedule, today, rules.horizon_days):
            starts = datetime.combine(day, schedule.start_time, tzinfo=tz)
            if starts <= now:
                continue
            values.append(
                {
                    "gym_id": gym.id,
                    "class_type_id": class_type.id,
                    "location_id": schedule.location_id,
                    "schedule_id": schedule.id,
                    "occurs_on": day,
                    "starts_at": starts,
                    "ends_at": starts + duration,
                    "instructor_id": schedule.instructor_id,
                    "instructor_name": schedule.instructor_name,
                    "capacity": schedule.capacity or class_type.default_capacity,
                    "status": "scheduled",
                    "overridden": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if not values:
        return 0
    upsert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    created = 0
    for first in range(0, len(values), MATERIALIZE_CHUNK):
        stmt = (
            upsert(ClassSession)
            .values(values[first : first + MATERIALIZE_CHUNK])
            .on_conflict_do_nothing(index_elements=["schedule_id", "occurs_on"])
            .returning(ClassSession.id)
        )
        created += len((await session.execute(stmt)).all())
    return created


async def materialize_all(session: AsyncSession, now: datetime) -> int:
    """Materialize every gym that has schedules (the daily job)."""
    gym_ids = (
        await session.scalars(
            select(ClassSchedule.gym_id).where(ClassSchedule.active.is_(True)).distinct()
        )
    ).all()
    created = 0
    for gym_id in gym_ids:
        gym = await session.get(Gym, gym_id)
        if gym is not None:
            created += await materialize_sessions(session, gym, now)
    return created


# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    """A session with what a timetable shows: class, place, seats taken."""

    class_session: ClassSession
    class_type: ClassType
    location: Location
    seats: Seats

    @property
    def free(self) -> int:
        return max(self.class_session.capacity - self.seats.booked, 0)


async def sessions_between(
    session: AsyncSession,
    gym_id: int,
    start: datetime,
    end: datetime,
    *,
    location_id: int | None = None,
    class_type_ids: Sequence[int] | None = None,
    include_canceled: bool = False,
    limit: int = 500,
) -> list[SessionView]:
    """Sessions starting in [start, end), soonest first."""
    stmt = (
        select(ClassSession, ClassType, Location)
        .join(ClassType, ClassType.id == ClassSession.class_type_id)
        .join(Location, Location.id == ClassSession.location_id)
        .where(
            ClassSession.gym_id == gym_id,
            ClassSession.starts_at >= start,
            ClassSession.starts_at < end,
        )
        .order_by(ClassSession.starts_at, Location.id, ClassSession.id)
        .limit(limit)
    )
    if location_id is not None:
        stmt = stmt.where(ClassSession.location_id == location_id)
    if class_type_ids is not None:
        stmt = stmt.where(ClassSession.class_type_id.in_(class_type_ids))
    if not include_canceled:
        stmt = stmt.where(ClassSession.status == "scheduled")
    rows = (await session.execute(stmt)).all()
    counts = await seat_counts(session, [r[0].id for r in rows])
    return [SessionView(cs, ct, loc, counts.get(cs.id, Seats())) for cs, ct, loc in rows]


async def session_view(session: AsyncSession, gym_id: int, session_id: int) -> SessionView:
    cs = await get_session(session, gym_id, session_id)
    class_type = await session.get(ClassType, cs.class_type_id)
    location = await session.get(Location, cs.location_id)
    assert class_type is not None and location is not None
    counts = await seat_counts(session, [cs.id])
    return SessionView(cs, class_type, location, counts.get(cs.id, Seats()))


async def create_one_off_session(
    session: AsyncSession,
    gym: Gym,
    *,
    class_type_id: int,
    location_id: int,
    starts_at: datetime,
    duration_minutes: int | None = None,
    capacity: int | None = None,
    instructor_id: int | None = None,
    instructor_name: str | None = None,
    actor: str,
    now: datetime,
) -> ClassSession:
    """A session outside the weekly schedule (a workshop, a holiday special)."""
    class_type = await get_class_type(session, gym.id, class_type_id)
    await _location(session, gym.id, location_id)
    if starts_at <= now:
        raise InvalidInput("La clase debe ser en el futuro.", "starts_at must be in the future.")
    staff_id, name = await _instructor(session, gym.id, instructor_id, instructor_name)
    duration = timedelta(minutes=duration_minutes or class_type.duration_minutes)
    cs = ClassSession(
        gym_id=gym.id,
        class_type_id=class_type.id,
        location_id=location_id,
        schedule_id=None,
        occurs_on=starts_at.astimezone(ZoneInfo(gym.timezone)).date(),
        starts_at=starts_at,
        ends_at=starts_at + duration,
        instructor_id=staff_id,
        instructor_name=name,
        capacity=capacity or class_type.default_capacity,
        status="scheduled",
        overridden=True,
    )
    session.add(cs)
    await session.flush()
    await audit(
        session,
        gym.id,
        actor,
        "class_session.created",
        "class_session",
        cs.id,
        {"class_type_id": class_type.id, "starts_at": starts_at.isoformat()},
    )
    return cs


async def change_session(
    session: AsyncSession,
    gym: Gym,
    session_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    override: bool = True,
) -> ClassSession:
    """A one-off change to one session: time (`starts_at`, `duration_minutes`),
    `location_id`, instructor or `capacity`. Members holding a seat or a waitlist place
    are told when the time or place changes; a larger capacity promotes from the
    waitlist; a capacity below the seats taken is refused."""
    cs = await lock_session(session, gym.id, session_id)
    if cs.status != "scheduled" or cs.ends_at <= now:
        raise Conflict(
            "Esta clase ya no se puede cambiar.", "This session can no longer be changed."
        )
    class_type = await session.get(ClassType, cs.class_type_id)
    assert class_type is not None
    before = {
        "starts_at": cs.starts_at.isoformat(),
        "location_id": cs.location_id,
        "capacity": cs.capacity,
        "instructor_name": cs.instructor_name,
    }
    moved = False
    if "starts_at" in changes or "duration_minutes" in changes:
        starts = changes.get("starts_at") or cs.starts_at
        minutes = changes.get("duration_minutes") or int(
            (cs.ends_at - cs.starts_at).total_seconds() // 60
        )
        if starts <= now:
            raise InvalidInput(
                "La clase debe quedar en el futuro.", "starts_at must be in the future."
            )
        moved = starts != cs.starts_at
        cs.starts_at, cs.ends_at = starts, starts + timedelta(minutes=minutes)
    if changes.get("location_id") is not None and changes["location_id"] != cs.location_id:
        await _location(session, gym.id, changes["location_id"])
        cs.location_id, moved = changes["location_id"], True
    if "instructor_id" in changes or "instructor_name" in changes:
        cs.instructor_id, cs.instructor_name = await _instructor(
            session,
            gym.id,
            changes.get("instructor_id", cs.instructor_id),
            changes.get("instructor_name"),
        )
    grew = False
    if changes.get("capacity") is not None:
        seats = (await seat_counts(session, [cs.id])).get(cs.id, Seats())
        if changes["capacity"] < seats.booked:
            raise Conflict(
                "Ya hay más lugares reservados que esa capacidad.",
                "More seats are already booked than that capacity.",
                {"booked": seats.booked},
            )
        grew = changes["capacity"] > cs.capacity
        cs.capacity = changes["capacity"]
    cs.overridden = cs.overridden or override
    await session.flush()
    await audit(
        session,
        gym.id,
        actor,
        "class_session.changed",
        "class_session",
        cs.id,
        {"before": before, "moved": moved},
    )
    if moved:
        await _tell_booked(session, gym, cs, class_type, "class_moved", now)
    if grew:
        await promote_waitlist(session, gym, cs, class_type, now)
    return cs


async def cancel_session(
    session: AsyncSession,
    gym: Gym,
    session_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> ClassSession:
    """Cancel one session: every seat is released (credits back) and everyone booked or
    waitlisted is told on WhatsApp."""
    cs = await lock_session(session, gym.id, session_id)
    if cs.status == "canceled":
        return cs
    if cs.starts_at <= now:
        raise Conflict("Esta clase ya empezó.", "This session already started.")
    class_type = await session.get(ClassType, cs.class_type_id)
    assert class_type is not None
    cs.status, cs.cancel_reason = "canceled", reason
    await session.flush()
    told = await _tell_booked(session, gym, cs, class_type, "class_session_canceled", now)
    bookings = (
        await session.scalars(
            select(ClassBooking).where(
                ClassBooking.session_id == cs.id,
                ClassBooking.status.in_(ACTIVE_BOOKING_STATUSES),
            )
        )
    ).all()
    for booking in bookings:
        if booking.status == "booked" and booking.credit_subscription_id is not None:
            await give_credit_back(session, booking.credit_subscription_id)
        booking.status, booking.canceled_at = "canceled", now
        booking.cancel_reason, booking.waitlist_position = "session_canceled", None
    await session.flush()
    await audit(
        session,
        gym.id,
        actor,
        "class_session.canceled",
        "class_session",
        cs.id,
        {"reason": reason, "notified": told, "bookings": len(bookings)},
    )
    return cs


async def _tell_booked(
    session: AsyncSession,
    gym: Gym,
    cs: ClassSession,
    class_type: ClassType,
    kind: str,
    now: datetime,
) -> int:
    """Queue `kind` to everyone holding a seat or a waitlist place in the session."""
    rows = (
        await session.execute(
            select(ClassBooking, Member)
            .join(Member, Member.id == ClassBooking.member_id)
            .where(
                ClassBooking.session_id == cs.id,
                ClassBooking.status.in_(ACTIVE_BOOKING_STATUSES),
            )
            .order_by(ClassBooking.id)
        )
    ).all()
    location = await session.get(Location, cs.location_id)
    rules = await class_rules(session, gym.id)
    tz = ZoneInfo(gym.timezone)
    for booking, member in rows:
        lang = member.locale if member.locale in messages.TEXTS else "es"
        values = {
            "cls": class_type.name,
            "when": messages.when(cs.starts_at, tz, lang),
            "location": location.name if location else "",
        }
        extra: dict[str, str] = {}
        if kind == "class_session_canceled":
            credit = booking.status == "booked" and booking.credit_subscription_id is not None
            extra = {
                "reason": messages.text(lang, "reason", reason=cs.cancel_reason)
                if cs.cancel_reason
                else "",
                "credit": messages.text(lang, "credit_back") if credit else "",
            }
        await messages.notify_member(
            session,
            gym=gym,
            member=member,
            body=messages.text(lang, kind, **values, **extra),
            now=now,
            template_sid=rules.template(kind),
            template_values={"1": values["cls"], "2": values["when"], "3": values["location"]},
        )
    return len(rows)
