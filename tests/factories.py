"""Factories as plain functions: the smallest gym that exercises a path."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription, plan_locations
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.types import utcnow

GYM_NUMBER = "+14155238886"
HOURS = {d: ["06:00", "22:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": ["07:00", "15:00"],
    "sun": None,
}


async def make_gym(session: AsyncSession, **kw: object) -> Gym:
    values: dict[str, object] = {
        "name": "GoGym Test",
        "slug": "test",
        "whatsapp_number": GYM_NUMBER,
        "timezone": "America/Mexico_City",
        "checkin_policy": "verify",
        "enrollment_open": True,
        "phone": "+525555555555",
    } | kw
    gym = Gym(**values)
    session.add(gym)
    await session.flush()
    return gym


async def make_location(
    session: AsyncSession, gym: Gym, slug: str = "centro", **kw: object
) -> Location:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "slug": slug,
        "name": f"GoGym {slug.title()}",
        "address": "Av. Juárez 10, Centro, CDMX",
        "latitude": 19.4326,
        "longitude": -99.1332,
        "radius_m": 150,
        "hours": HOURS,
    } | kw
    loc = Location(**values)
    session.add(loc)
    await session.flush()
    return loc


async def make_plan(
    session: AsyncSession,
    gym: Gym,
    code: str = "premium",
    price_cents: int = 79900,
    only_at: list[Location] | None = None,
    **kw: object,
) -> Plan:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "code": code,
        "name": code.title(),
        "price_cents": price_cents,
        "interval": "month",
        "all_locations": only_at is None,
    } | kw
    plan = Plan(**values)
    session.add(plan)
    await session.flush()
    for loc in only_at or []:
        await session.execute(insert(plan_locations).values(plan_id=plan.id, location_id=loc.id))
    return plan


async def make_member(
    session: AsyncSession,
    gym: Gym,
    phone: str = "+525512345678",
    name: str | None = "Ana López",
    status: str = "active",
    **kw: object,
) -> Member:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "phone": phone,
        "whatsapp_address": "whatsapp:+521" + phone[3:],
        "name": name,
        "status": status,
        "locale": "es",
    } | kw
    member = Member(**values)
    session.add(member)
    await session.flush()
    return member


async def make_subscription(
    session: AsyncSession,
    member: Member,
    plan: Plan,
    status: str = "active",
    now: datetime | None = None,
    days_left: int = 20,
) -> Subscription:
    now = now or utcnow()
    sub = Subscription(
        gym_id=member.gym_id,
        member_id=member.id,
        plan_id=plan.id,
        status=status,
        current_period_start=now - timedelta(days=10),
        current_period_end=now + timedelta(days=days_left),
    )
    session.add(sub)
    await session.flush()
    return sub


async def make_invoice(
    session: AsyncSession,
    member: Member,
    total_cents: int,
    status: str = "open",
    due_in_days: int = -5,
    number: str = "A-000001",
) -> Invoice:
    inv = Invoice(
        gym_id=member.gym_id,
        member_id=member.id,
        number=number,
        status=status,
        total_cents=total_cents,
        due_at=utcnow() + timedelta(days=due_in_days),
    )
    session.add(inv)
    await session.flush()
    return inv


async def standard_gym(session: AsyncSession) -> tuple[Gym, Location, Location, Plan, Plan]:
    """A gym with centro and norte, Premium (all locations) and Básico (centro only)."""
    gym = await make_gym(session)
    centro = await make_location(session, gym, "centro")
    norte = await make_location(
        session,
        gym,
        "norte",
        latitude=19.4890,
        longitude=-99.1300,
        address="Av. Montevideo 300, Lindavista, CDMX",
    )
    premium = await make_plan(session, gym, "premium", 79900)
    basico = await make_plan(session, gym, "basico", 49900, only_at=[centro])
    await make_plan(session, gym, "pase-dia", 0, interval="day", public=False)
    return gym, centro, norte, premium, basico
