"""`/api/v1/classes`: staff manage class types, the weekly schedule and single sessions
(one-off changes, cancellations that notify members), see bookings and mark attendance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.classes import schedule as timetable
from backend.classes import service
from backend.classes.models import ClassBooking, ClassSession, ClassSettings, ClassType
from backend.classes.schemas import (
    AttendanceMark,
    BookingCreate,
    BookingOut,
    ClassSettingsIn,
    ClassSettingsOut,
    ClassTypeCreate,
    ClassTypeOut,
    ClassTypeUpdate,
    ScheduleCreate,
    ScheduleOut,
    ScheduleUpdate,
    SessionCancel,
    SessionCreate,
    SessionOut,
    SessionUpdate,
)
from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.members.service import audit
from backend.types import utcnow

router = APIRouter(prefix="/classes", tags=["classes"])

MAX_RANGE = timedelta(days=62)


async def _gym(session: AsyncSession, principal: Principal) -> Gym:
    gym = await session.get(Gym, principal.gym_id)
    if gym is None:
        raise NotFound("Gimnasio no encontrado.", "Gym not found.")
    return gym


# --- class types -----------------------------------------------------------------------------


async def _type_out(session: AsyncSession, class_type: ClassType) -> ClassTypeOut:
    plan_ids = (
        [] if class_type.all_plans else await service.eligible_plan_ids(session, class_type.id)
    )
    return ClassTypeOut(
        id=class_type.id,
        name=class_type.name,
        description=class_type.description,
        duration_minutes=class_type.duration_minutes,
        default_capacity=class_type.default_capacity,
        all_plans=class_type.all_plans,
        plan_ids=sorted(plan_ids),
        active=class_type.active,
    )


@router.get("/types")
async def list_class_types(
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> list[ClassTypeOut]:
    types = await timetable.list_class_types(session, principal.gym_id)
    return [await _type_out(session, t) for t in types]


@router.post("/types", status_code=status.HTTP_201_CREATED)
async def create_class_type(
    body: ClassTypeCreate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ClassTypeOut:
    class_type = await timetable.create_class_type(
        session,
        principal.gym_id,
        name=body.name,
        description=body.description,
        duration_minutes=body.duration_minutes,
        default_capacity=body.default_capacity,
        plan_ids=body.plan_ids,
        actor=principal.actor(),
    )
    return await _type_out(session, class_type)


@router.get("/types/{class_type_id}")
async def get_class_type(
    class_type_id: int,
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> ClassTypeOut:
    return await _type_out(
        session, await timetable.get_class_type(session, principal.gym_id, class_type_id)
    )


@router.patch("/types/{class_type_id}")
async def update_class_type(
    class_type_id: int,
    body: ClassTypeUpdate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ClassTypeOut:
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "duration_minutes", "default_capacity", "active", "description"):
        if field in changes and changes[field] is None:
            raise InvalidInput(
                f"{field} no puede ser nulo.", f"{field} cannot be null.", {"field": field}
            )
    class_type = await timetable.update_class_type(
        session, principal.gym_id, class_type_id, changes, actor=principal.actor()
    )
    return await _type_out(session, class_type)


# --- schedules -------------------------------------------------------------------------------


@router.get("/schedules")
async def list_schedules(
    location_id: int | None = None,
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> list[ScheduleOut]:
    rows = await timetable.list_schedules(session, principal.gym_id, location_id)
    return [ScheduleOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/schedules", status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: ScheduleCreate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ScheduleOut:
    """A weekly slot; its sessions for the coming days are created at once."""
    gym = await _gym(session, principal)
    schedule = await timetable.create_schedule(
        session,
        gym,
        **body.model_dump(),
        actor=principal.actor(),
        now=utcnow(),
    )
    return ScheduleOut.model_validate(schedule, from_attributes=True)


@router.patch("/schedules/{schedule_id}")
async def update_schedule(
    schedule_id: int,
    body: ScheduleUpdate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ScheduleOut:
    """Change a weekly slot from now on (future sessions follow; members are told)."""
    gym = await _gym(session, principal)
    changes = body.model_dump(exclude_unset=True)
    for field in ("start_time", "active"):
        if field in changes and changes[field] is None:
            raise InvalidInput(
                f"{field} no puede ser nulo.", f"{field} cannot be null.", {"field": field}
            )
    schedule = await timetable.update_schedule(
        session, gym, schedule_id, changes, actor=principal.actor(), now=utcnow()
    )
    return ScheduleOut.model_validate(schedule, from_attributes=True)


@router.delete("/schedules/{schedule_id}")
async def end_schedule(
    schedule_id: int,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ScheduleOut:
    """Stop a weekly slot: future sessions go (booked ones are canceled with notice)."""
    gym = await _gym(session, principal)
    schedule = await timetable.update_schedule(
        session, gym, schedule_id, {"active": False}, actor=principal.actor(), now=utcnow()
    )
    return ScheduleOut.model_validate(schedule, from_attributes=True)


# --- sessions --------------------------------------------------------------------------------


def _session_out(view: timetable.SessionView, tz: ZoneInfo) -> SessionOut:
    cs = view.class_session
    return SessionOut(
        id=cs.id,
        class_type_id=cs.class_type_id,
        class_name=view.class_type.name,
        location_id=cs.location_id,
        location_name=view.location.name,
        schedule_id=cs.schedule_id,
        starts_at=cs.starts_at,
        ends_at=cs.ends_at,
        local_start=cs.starts_at.astimezone(tz).isoformat(),
        instructor_id=cs.instructor_id,
        instructor_name=cs.instructor_name,
        capacity=cs.capacity,
        booked=view.seats.booked,
        waitlisted=view.seats.waitlisted,
        free=view.free,
        status=cs.status,
        cancel_reason=cs.cancel_reason,
    )


@router.get("/sessions")
async def list_sessions(
    start: AwareDatetime | None = Query(None, alias="from", description="Default: now."),
    end: AwareDatetime | None = Query(None, alias="to", description="Default: 7 days later."),
    location_id: int | None = None,
    class_type_id: int | None = None,
    include_canceled: bool = False,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[SessionOut]:
    """Sessions starting in [from, to), soonest first."""
    gym = await _gym(session, principal)
    start = start or utcnow()
    end = end or start + timedelta(days=7)
    if end <= start or end - start > MAX_RANGE:
        raise InvalidInput(
            "El rango de fechas no es válido (máximo 62 días).",
            "Invalid date range (62 days at most).",
            {"field": "to"},
        )
    stmt = select(ClassSession).where(
        ClassSession.gym_id == gym.id,
        ClassSession.starts_at >= start,
        ClassSession.starts_at < end,
    )
    if location_id is not None:
        stmt = stmt.where(ClassSession.location_id == location_id)
    if class_type_id is not None:
        stmt = stmt.where(ClassSession.class_type_id == class_type_id)
    if not include_canceled:
        stmt = stmt.where(ClassSession.status == "scheduled")
    rows, next_cursor = await paginate(
        session, stmt, page, (ClassSession.starts_at, ClassSession.id), descending=False
    )
    counts = await service.seat_counts(session, [r.id for r in rows])
    types = {t.id: t for t in await timetable.list_class_types(session, gym.id)}
    places = {
        loc.id: loc
        for loc in (await session.scalars(select(Location).where(Location.gym_id == gym.id)))
    }
    tz = ZoneInfo(gym.timezone)
    items = [
        _session_out(
            timetable.SessionView(
                cs,
                types[cs.class_type_id],
                places[cs.location_id],
                counts.get(cs.id, service.Seats()),
            ),
            tz,
        )
        for cs in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
async def create_session(
    body: SessionCreate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> SessionOut:
    """A one-off session outside the weekly schedule."""
    gym = await _gym(session, principal)
    cs = await timetable.create_one_off_session(
        session, gym, **body.model_dump(), actor=principal.actor(), now=utcnow()
    )
    view = await timetable.session_view(session, gym.id, cs.id)
    return _session_out(view, ZoneInfo(gym.timezone))


@router.get("/sessions/{session_id}")
async def get_session_detail(
    session_id: int,
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> SessionOut:
    gym = await _gym(session, principal)
    view = await timetable.session_view(session, gym.id, session_id)
    return _session_out(view, ZoneInfo(gym.timezone))


@router.patch("/sessions/{session_id}")
async def change_session(
    session_id: int,
    body: SessionUpdate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> SessionOut:
    """Move it, change its instructor or capacity — this session only."""
    gym = await _gym(session, principal)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if changes.get("starts_at") is None:
        changes.pop("starts_at", None)
    await timetable.change_session(
        session, gym, session_id, changes, actor=principal.actor(), now=utcnow()
    )
    view = await timetable.session_view(session, gym.id, session_id)
    return _session_out(view, ZoneInfo(gym.timezone))


@router.post("/sessions/{session_id}/cancel")
async def cancel_session(
    session_id: int,
    body: SessionCancel,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> SessionOut:
    """Cancel one session: seats are released (credits back) and everyone is told."""
    gym = await _gym(session, principal)
    await timetable.cancel_session(
        session, gym, session_id, reason=body.reason, actor=principal.actor(), now=utcnow()
    )
    view = await timetable.session_view(session, gym.id, session_id)
    return _session_out(view, ZoneInfo(gym.timezone))


# --- bookings --------------------------------------------------------------------------------


def _booking_out(booking: ClassBooking, member: Member) -> BookingOut:
    return BookingOut(
        id=booking.id,
        session_id=booking.session_id,
        member_id=member.id,
        member_name=member.name,
        member_phone=member.phone,
        status=booking.status,
        waitlist_position=booking.waitlist_position,
        booked_at=booking.booked_at,
        promoted_at=booking.promoted_at,
        canceled_at=booking.canceled_at,
        cancel_reason=booking.cancel_reason,
        attendance_at=booking.attendance_at,
        source=booking.source,
    )


@router.get("/sessions/{session_id}/bookings")
async def list_bookings(
    session_id: int,
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> list[BookingOut]:
    """Seats first (in booking order), then the waitlist in line order, then the rest."""
    cs = await timetable.get_session(session, principal.gym_id, session_id)
    rows = (
        await session.execute(
            select(ClassBooking, Member)
            .join(Member, Member.id == ClassBooking.member_id)
            .where(ClassBooking.session_id == cs.id, ClassBooking.gym_id == principal.gym_id)
            .order_by(ClassBooking.id)
        )
    ).all()
    rank = {"booked": 0, "attended": 0, "no_show": 0, "waitlisted": 1, "canceled": 2}
    ordered = sorted(
        rows, key=lambda r: (rank.get(r[0].status, 3), r[0].waitlist_position or 0, r[0].id)
    )
    return [_booking_out(b, m) for b, m in ordered]


async def _member(session: AsyncSession, gym_id: int, member_id: int) -> Member:
    member = await session.scalar(
        select(Member).where(Member.id == member_id, Member.gym_id == gym_id)
    )
    if member is None:
        raise NotFound("Socio no encontrado.", "Member not found.")
    return member


@router.post("/sessions/{session_id}/bookings", status_code=status.HTTP_201_CREATED)
async def book_member(
    session_id: int,
    body: BookingCreate,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> BookingOut:
    """The front desk books a member in (same rules as the chat)."""
    gym = await _gym(session, principal)
    member = await _member(session, gym.id, body.member_id)
    outcome = await service.book(
        session,
        gym=gym,
        member=member,
        session_id=session_id,
        now=utcnow(),
        waitlist=body.waitlist,
        actor=principal.actor(),
        source="staff",
    )
    return _booking_out(outcome.booking, member)


@router.post("/bookings/{booking_id}/cancel")
async def cancel_booking(
    booking_id: int,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> BookingOut:
    """Cancel a member's seat for them (cut-off rules apply; the waitlist moves up)."""
    gym = await _gym(session, principal)
    booking = await session.scalar(
        select(ClassBooking).where(ClassBooking.id == booking_id, ClassBooking.gym_id == gym.id)
    )
    if booking is None:
        raise NotFound("No encontré esa reserva.", "Booking not found.")
    member = await _member(session, gym.id, booking.member_id)
    outcome = await service.cancel_booking(
        session,
        gym=gym,
        member=member,
        booking_id=booking.id,
        now=utcnow(),
        actor=principal.actor(),
    )
    return _booking_out(outcome.booking, member)


@router.post("/sessions/{session_id}/attendance")
async def mark_attendance(
    session_id: int,
    body: AttendanceMark,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> BookingOut:
    gym = await _gym(session, principal)
    booking = await service.mark_attendance(
        session,
        gym=gym,
        session_id=session_id,
        booking_id=body.booking_id,
        status=body.status,
        now=utcnow(),
        actor=principal.actor(),
    )
    member = await _member(session, gym.id, booking.member_id)
    return _booking_out(booking, member)


# --- settings --------------------------------------------------------------------------------


@router.get("/settings")
async def get_class_settings(
    principal: Principal = Depends(require("classes:read")),
    session: AsyncSession = Depends(get_session),
) -> ClassSettingsOut:
    row = await session.get(ClassSettings, principal.gym_id)
    if row is None:
        return ClassSettingsOut()
    return ClassSettingsOut(
        cancel_cutoff_minutes=row.cancel_cutoff_minutes,
        reminder_minutes=row.reminder_minutes,
        horizon_days=row.horizon_days,
        checkin_early_minutes=row.checkin_early_minutes,
        templates=dict(row.templates or {}),
    )


@router.put("/settings")
async def put_class_settings(
    body: ClassSettingsIn,
    principal: Principal = Depends(require("classes:write")),
    session: AsyncSession = Depends(get_session),
) -> ClassSettingsOut:
    """The gym's cancellation cut-off, reminder lead time, booking horizon and templates."""
    row = await session.get(ClassSettings, principal.gym_id)
    if row is None:
        row = ClassSettings(gym_id=principal.gym_id)
        session.add(row)
    for field, value in body.model_dump().items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    await session.flush()
    await audit(
        session,
        principal.gym_id,
        principal.actor(),
        "class_settings.updated",
        "class_settings",
        principal.gym_id,
        body.model_dump(),
    )
    return ClassSettingsOut(**body.model_dump())
