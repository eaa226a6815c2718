"""Checking a member in: access rules, the 3-hour cooldown, and visit statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import ACCESS_STATUSES, Invoice
from backend.billing.service import HOLDING, Holding, open_invoices, plan_covers
from backend.checkins.codes import daily_code
from backend.checkins.models import CheckIn
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.types import UTCDateTime

STATS_WINDOW = timedelta(weeks=53)


class CheckInRefused(Exception):
    """Base of the reasons a check-in is refused; flows turn each into a friendly reply."""


@dataclass
class NoAccess(CheckInRefused):
    owed_cents: int
    open_invoices: Sequence[Invoice]
    expired_on: datetime | None  # set when the last membership simply ended


@dataclass
class AlreadyCheckedIn(CheckInRefused):
    at: datetime
    location_id: int


@dataclass
class LocationNotCovered(CheckInRefused):
    plan_name: str


@dataclass(frozen=True)
class VisitStats:
    visits_this_month: int
    week_streak: int


@dataclass(frozen=True)
class CheckInOutcome:
    check_in: CheckIn
    stats: VisitStats
    # Set during the dunning grace (past_due): in, but reminded of what is owed.
    owed_cents: int = 0


def code_matches(secret_key: str, location: Location, code: str, local_day: date) -> bool:
    return code == daily_code(secret_key, location.id, local_day)


def compute_stats(times: Sequence[datetime], tz: ZoneInfo, now: datetime) -> VisitStats:
    """Visits in the current local month and consecutive local weeks with a visit.

    The current week counts once it has a visit; an empty current week does not break
    the streak yet (the member still has days left to come).
    """
    local_now = now.astimezone(tz)
    local = [t.astimezone(tz) for t in times]
    month = sum(1 for t in local if (t.year, t.month) == (local_now.year, local_now.month))
    weeks = {t.date() - timedelta(days=t.weekday()) for t in local}
    week = local_now.date() - timedelta(days=local_now.weekday())
    if week not in weeks:
        week -= timedelta(weeks=1)
    streak = 0
    while week in weeks:
        streak += 1
        week -= timedelta(weeks=1)
    return VisitStats(month, streak)


# Built once: SQLAlchemy reuses their cache keys and compiled forms on every check-in.
_VISITS = (
    select(CheckIn.checked_in_at, CheckIn.location_id)
    .where(
        CheckIn.gym_id == bindparam("gym_id"),
        CheckIn.member_id == bindparam("member_id"),
        CheckIn.checked_in_at >= bindparam("since", type_=UTCDateTime()),
    )
    .order_by(CheckIn.checked_in_at.desc())
)
_LAST_VISIT = (
    select(CheckIn.checked_in_at, CheckIn.location_id)
    .where(CheckIn.gym_id == bindparam("gym_id"), CheckIn.member_id == bindparam("member_id"))
    .order_by(CheckIn.checked_in_at.desc())
    .limit(1)
)
# What decides entry, in one query: the holding and the latest visit (for the cooldown).
_ENTRY = HOLDING.add_columns(
    _LAST_VISIT.with_only_columns(CheckIn.checked_in_at).scalar_subquery(),
    _LAST_VISIT.with_only_columns(CheckIn.location_id).scalar_subquery(),
)


async def recent_visits(
    session: AsyncSession, gym_id: int, member_id: int, now: datetime
) -> list[tuple[datetime, int]]:
    """(time, location_id) of the member's visits in the stats window, newest first."""
    params = {"gym_id": gym_id, "member_id": member_id, "since": now - STATS_WINDOW}
    rows = await session.execute(_VISITS, params)
    return [(t, loc) for t, loc in rows.all()]


async def ensure_may_enter(
    session: AsyncSession, member: Member, now: datetime, cooldown: timedelta
) -> Holding:
    """Raise NoAccess or AlreadyCheckedIn; return the holding that lets the member in."""
    params = {"member_id": member.id, "gym_id": member.gym_id}
    row = (await session.execute(_ENTRY, params)).first()
    if row is None or row[0].status not in ACCESS_STATUSES or row[0].current_period_end <= now:
        invoices = await open_invoices(session, member.id)
        expired = row[0].current_period_end if row else None
        raise NoAccess(sum(i.amount_due_cents for i in invoices), invoices, expired)
    holding, last_at, last_location = Holding(row[0], row[1]), row[2], row[3]
    if last_at is not None and now - last_at < cooldown:
        raise AlreadyCheckedIn(last_at, last_location)
    return holding


async def check_in(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    location: Location,
    method: str,
    now: datetime,
    cooldown: timedelta,
    latitude: float | None = None,
    longitude: float | None = None,
) -> CheckInOutcome:
    """Record a visit if the member may come in; raise a CheckInRefused otherwise."""
    holding = await ensure_may_enter(session, member, now, cooldown)
    if not await plan_covers(session, holding.plan, location.id):
        raise LocationNotCovered(holding.plan.name)

    visit = CheckIn(
        gym_id=gym.id,
        member_id=member.id,
        location_id=location.id,
        method=method,
        checked_in_at=now,
        latitude=latitude,
        longitude=longitude,
    )
    session.add(visit)
    await session.flush()
    await record_event(
        session, gym.id, member.id, "visit", {"location_id": location.id, "method": method}, now
    )
    await audit(
        session,
        gym.id,
        f"member:{member.id}",
        "access.checked_in",
        "check_in",
        visit.id,
        {"location_id": location.id, "method": method},
    )
    visits = await recent_visits(session, gym.id, member.id, now)  # this one included
    stats = compute_stats([t for t, _ in visits], ZoneInfo(gym.timezone), now)
    owed = 0
    if holding.subscription.status == "past_due":
        owed = sum(i.amount_due_cents for i in await open_invoices(session, member.id))
    return CheckInOutcome(visit, stats, owed)
