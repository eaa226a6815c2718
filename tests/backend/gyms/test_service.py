"""The per-process gym directory: snapshots by WhatsApp number and their shared data."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan
from backend.gyms.service import GymDirectory, public_plans
from tests.factories import standard_gym


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_snapshots_are_reused_until_the_ttl_passes(session: AsyncSession) -> None:
    gym, *_ = await standard_gym(session)
    clock = Clock()
    directory = GymDirectory(ttl=30, clock=clock)
    first = await directory.by_number(session, gym.whatsapp_number)
    assert first is not None and {loc.slug for loc in first.locations} == {"centro", "norte"}
    assert inspect(first.gym).detached
    clock.now += 29
    assert await directory.by_number(session, gym.whatsapp_number) is first
    clock.now += 2
    fresh = await directory.by_number(session, gym.whatsapp_number)
    assert fresh is not None and fresh is not first
    assert await directory.by_number(session, "+10000000000") is None


async def test_reference_data_loads_once_per_snapshot_detached(session: AsyncSession) -> None:
    gym, *_ = await standard_gym(session)
    clock = Clock()
    directory = GymDirectory(ttl=30, clock=clock)
    loads: list[int] = []

    async def load(s: AsyncSession) -> list[tuple[Plan, int]]:
        loads.append(1)
        return [(p, p.price_cents) for p in await public_plans(s, gym.id)]

    snapshot = await directory.by_number(session, gym.whatsapp_number)
    assert snapshot is not None
    plans = await snapshot.reference(session, "plans", load)
    again = await snapshot.reference(session, "plans", load)
    assert again is plans and len(loads) == 1
    assert plans and all(inspect(plan).detached for plan, _ in plans)
    assert all(plan not in session for plan, _ in plans)  # shared rows leave the session

    clock.now += 31
    renewed = await directory.by_number(session, gym.whatsapp_number)
    assert renewed is not None
    await renewed.reference(session, "plans", load)
    assert len(loads) == 2
