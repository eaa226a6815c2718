"""Gym information for the chat (hours with holiday exceptions, amenities, business hours)
and the gym's self-service settings (retention offers, privacy notice link)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym, Location
from backend.members.service import audit
from backend.selfservice.models import GymHoliday, SelfServiceSettings

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Why members leave, in the order the chat lists them (free text is "other").
CANCEL_REASONS = ("price", "travel", "time", "health", "service", "other")


class RetentionOffer(BaseModel):
    """What the chat offers instead of cancelling, for one reason."""

    kind: Literal["freeze", "downgrade", "discount"]
    # discount: this percent of the plan price, for `months` periods, as balance credit.
    percent: int = Field(default=0, ge=0, le=100)
    months: int = Field(default=1, ge=1, le=12)
    # downgrade: the plan to offer (default: the cheapest active public plan that costs less).
    plan_code: str | None = Field(default=None, max_length=40)


# A gym that configured nothing: the usual front-desk offers.
DEFAULT_OFFERS: dict[str, RetentionOffer] = {
    "price": RetentionOffer(kind="downgrade"),
    "travel": RetentionOffer(kind="freeze"),
    "time": RetentionOffer(kind="freeze"),
    "health": RetentionOffer(kind="freeze"),
}


@dataclass(frozen=True)
class GymServiceSettings:
    amenities: dict[str, list[str]]
    retention_offers: dict[str, RetentionOffer]
    privacy_notice_url: str | None
    handoff_reply_minutes: int


async def settings_of(session: AsyncSession, gym_id: int) -> GymServiceSettings:
    row = await session.get(SelfServiceSettings, gym_id)
    if row is None:
        return GymServiceSettings({}, dict(DEFAULT_OFFERS), None, 120)
    return GymServiceSettings(
        amenities={str(k): [str(a) for a in v] for k, v in (row.amenities or {}).items()},
        retention_offers=_offers(row.retention_offers),
        privacy_notice_url=row.privacy_notice_url,
        handoff_reply_minutes=row.handoff_reply_minutes,
    )


def _offers(raw: dict[str, Any] | None) -> dict[str, RetentionOffer]:
    """Stored offers; one that no longer validates is skipped, not fatal to the chat."""
    if raw is None:
        return dict(DEFAULT_OFFERS)
    offers: dict[str, RetentionOffer] = {}
    for reason, value in raw.items():
        try:
            offers[reason] = RetentionOffer.model_validate(value)
        except ValidationError:
            continue
    return offers


async def save_settings(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    *,
    amenities: dict[str, list[str]],
    retention_offers: dict[str, RetentionOffer],
    privacy_notice_url: str | None,
    handoff_reply_minutes: int,
    now: datetime,
) -> GymServiceSettings:
    unknown = set(retention_offers) - set(CANCEL_REASONS)
    if unknown:
        raise InvalidInput(
            f"Motivos desconocidos: {', '.join(sorted(unknown))}.",
            f"Unknown reasons: {', '.join(sorted(unknown))}.",
            {"reasons": list(CANCEL_REASONS)},
        )
    row = await session.get(SelfServiceSettings, gym_id)
    if row is None:
        row = SelfServiceSettings(gym_id=gym_id)
        session.add(row)
    row.amenities = amenities
    row.retention_offers = {k: v.model_dump() for k, v in retention_offers.items()}
    row.privacy_notice_url = privacy_notice_url
    row.handoff_reply_minutes = handoff_reply_minutes
    row.updated_at = now
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "selfservice_settings.updated",
        "selfservice_settings",
        gym_id,
        {"retention_offers": row.retention_offers, "privacy_notice_url": privacy_notice_url},
    )
    return await settings_of(session, gym_id)


def amenities_at(settings: GymServiceSettings, location_id: int) -> list[str]:
    """Amenities every location has, then those of this location."""
    shared = settings.amenities.get("all", [])
    own = settings.amenities.get(str(location_id), [])
    return [*shared, *(a for a in own if a not in shared)]


# --- hours ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    day: date
    opens: time | None  # None: closed that day
    closes: time | None
    holiday: str | None = None  # the holiday's name when it changes that day

    @property
    def closed(self) -> bool:
        return self.opens is None or self.closes is None


def _clock(value: str | None) -> time | None:
    if not value:
        return None
    hour, minute = value.split(":")
    return time(int(hour) % 24, int(minute))


async def holidays_between(
    session: AsyncSession, gym_id: int, start: date, end: date
) -> list[GymHoliday]:
    """Holiday rows from `start` to `end` (inclusive), gym-wide and per location."""
    rows = await session.scalars(
        select(GymHoliday)
        .where(GymHoliday.gym_id == gym_id, GymHoliday.day >= start, GymHoliday.day <= end)
        .order_by(GymHoliday.day, GymHoliday.id)
    )
    return list(rows.all())


def hours_on(location: Location, day: date, holidays: Sequence[GymHoliday]) -> DayHours:
    """A location's hours on a local date: a holiday of that location beats a gym-wide
    one, which beats the weekly hours."""
    found = [h for h in holidays if h.day == day and h.location_id in (None, location.id)]
    found.sort(key=lambda h: h.location_id is None)  # the location's own first
    if found:
        h = found[0]
        if h.closed:
            return DayHours(day, None, None, h.name)
        return DayHours(day, _clock(h.opens), _clock(h.closes), h.name)
    span = (location.hours or {}).get(WEEKDAY_KEYS[day.weekday()])
    if not span:
        return DayHours(day, None, None)
    return DayHours(day, _clock(span[0]), _clock(span[1]))


def is_open(location: Location, local: datetime, holidays: Sequence[GymHoliday]) -> bool:
    hours = hours_on(location, local.date(), holidays)
    if hours.closed:
        return False
    assert hours.opens is not None and hours.closes is not None
    return hours.opens <= local.time() < hours.closes


def next_opening(
    location: Location, local: datetime, holidays: Sequence[GymHoliday]
) -> datetime | None:
    """The next local moment the location opens (within a week), None if it never does."""
    for offset in range(0, 8):
        day = local.date() + timedelta(days=offset)
        hours = hours_on(location, day, holidays)
        if hours.closed:
            continue
        assert hours.opens is not None
        opening = datetime.combine(day, hours.opens, local.tzinfo)
        if opening > local:
            return opening
    return None


def local_now(gym: Gym, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(gym.timezone))


# --- holidays (staff) -----------------------------------------------------------------------


async def add_holiday(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    *,
    day: date,
    name: str,
    location_id: int | None,
    closed: bool,
    opens: str | None,
    closes: str | None,
) -> GymHoliday:
    if location_id is not None:
        found = await session.scalar(
            select(Location.id).where(Location.id == location_id, Location.gym_id == gym_id)
        )
        if found is None:
            raise NotFound("Esa sucursal no existe.", "No such location.")
    if not closed and (not opens or not closes or opens >= closes):
        raise InvalidInput(
            "Un horario especial necesita hora de apertura y de cierre.",
            "Special hours need an opening and a closing time.",
        )
    # One rule per day and place: a new one replaces the old.
    await session.execute(
        delete(GymHoliday).where(
            GymHoliday.gym_id == gym_id,
            GymHoliday.day == day,
            GymHoliday.location_id.is_(None)
            if location_id is None
            else GymHoliday.location_id == location_id,
        )
    )
    row = GymHoliday(
        gym_id=gym_id,
        location_id=location_id,
        day=day,
        name=name,
        closed=closed,
        opens=None if closed else opens,
        closes=None if closed else closes,
    )
    session.add(row)
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "holiday.set",
        "gym_holiday",
        row.id,
        {"day": day.isoformat(), "location_id": location_id, "closed": closed},
    )
    return row


async def remove_holiday(session: AsyncSession, gym_id: int, actor: str, holiday_id: int) -> None:
    row = await session.scalar(
        select(GymHoliday).where(GymHoliday.id == holiday_id, GymHoliday.gym_id == gym_id)
    )
    if row is None:
        raise NotFound("Ese día festivo no existe.", "No such holiday.")
    await session.delete(row)
    await audit(
        session, gym_id, actor, "holiday.removed", "gym_holiday", holiday_id, {"day": str(row.day)}
    )


def holidays_query(gym_id: int, start: date | None, end: date | None) -> Any:
    stmt = select(GymHoliday).where(GymHoliday.gym_id == gym_id)
    if start is not None:
        stmt = stmt.where(GymHoliday.day >= start)
    if end is not None:
        stmt = stmt.where(or_(GymHoliday.day <= end))
    return stmt
