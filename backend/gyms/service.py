"""Gyms, their locations and plans, looked up by the number members write to."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan
from backend.db import Base
from backend.gyms.models import Gym, Location

EARTH_RADIUS_M = 6_371_000
T = TypeVar("T")
Loader = Callable[[AsyncSession], Awaitable[T]]


async def gym_by_number(session: AsyncSession, number: str) -> Gym | None:
    return await session.scalar(select(Gym).where(Gym.whatsapp_number == number))


@dataclass(frozen=True)
class GymSnapshot:
    gym: Gym
    locations: tuple[Location, ...]
    # Other reference data the chat reads (settings, holidays, plans), loaded on first use
    # and kept as long as this snapshot (`reference`).
    memo: dict[str, Any] = field(default_factory=dict, compare=False)

    async def reference(self, session: AsyncSession, key: str, load: Loader[T]) -> T:
        """`load(session)` once per snapshot. It must return plain values or rows it has
        not changed: the rows are detached from `session` and shared by every turn of
        the gym in this process, read-only."""
        if key not in self.memo:
            value = await load(session)
            for row in _rows(value):
                session.expunge(row)
            self.memo[key] = value
        return cast(T, self.memo[key])


def _rows(value: object) -> list[Base]:
    """The ORM rows in a value: itself, or in a list/tuple of rows or of tuples of them."""
    items = value if isinstance(value, list | tuple) else [value]
    parts = [p for item in items for p in (item if isinstance(item, tuple) else (item,))]
    return [p for p in parts if isinstance(p, Base)]


class GymDirectory:
    """Gyms and their locations by WhatsApp number, cached per process: read on every
    inbound message, changed rarely. A change (e.g. closing enrollment, a new holiday or
    price) is seen within `ttl` seconds. The cached rows are detached, read-only."""

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, GymSnapshot | None]] = {}

    async def by_number(self, session: AsyncSession, number: str) -> GymSnapshot | None:
        hit = self._cache.get(number)
        if hit is not None and self._clock() - hit[0] < self.ttl:
            return hit[1]
        snapshot = None
        gym = await gym_by_number(session, number)
        if gym is not None:
            locations = tuple(await locations_of(session, gym.id))
            for row in (gym, *locations):
                session.expunge(row)
            snapshot = GymSnapshot(gym, locations)
        self._cache[number] = (self._clock(), snapshot)
        return snapshot


async def gym_by_slug(session: AsyncSession, slug: str) -> Gym | None:
    return await session.scalar(select(Gym).where(Gym.slug == slug))


async def locations_of(session: AsyncSession, gym_id: int) -> Sequence[Location]:
    rows = await session.scalars(
        select(Location).where(Location.gym_id == gym_id).order_by(Location.id)
    )
    return rows.all()


async def public_plans(session: AsyncSession, gym_id: int) -> Sequence[Plan]:
    rows = await session.scalars(
        select(Plan)
        .where(Plan.gym_id == gym_id, Plan.public.is_(True), Plan.active.is_(True))
        .order_by(Plan.price_cents)
    )
    return rows.all()


def local_now(gym: Gym, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(gym.timezone))


def local_today(gym: Gym, now: datetime) -> date:
    return local_now(gym, now).date()


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine) in meters."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class NearestLocation:
    location: Location
    meters: float

    @property
    def inside(self) -> bool:
        return self.meters <= self.location.radius_m


def nearest_location(
    locations: Sequence[Location], latitude: float, longitude: float
) -> NearestLocation | None:
    ranked = sorted(
        (
            NearestLocation(loc, distance_m(latitude, longitude, loc.latitude, loc.longitude))
            for loc in locations
        ),
        key=lambda n: n.meters,
    )
    return ranked[0] if ranked else None
