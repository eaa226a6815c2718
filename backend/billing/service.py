"""What a member holds and owes: current subscription, open invoices, free trial passes.

The billing core (cycle, dunning, proration) lives in the sibling modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription, SubscriptionSeat, plan_locations
from backend.errors import DomainError
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import audit, record_event

TRIAL_PLAN_CODE = "pase-dia"


@dataclass(frozen=True)
class Holding:
    """A member's most relevant subscription with its plan."""

    subscription: Subscription
    plan: Plan


_SEAT_OF = select(SubscriptionSeat.subscription_id).where(
    SubscriptionSeat.member_id == bindparam("member_id")
)
# Built once: SQLAlchemy reuses its cache key and compiled form (every check-in runs it).
# Callers may add columns (check-ins add the latest visit).
HOLDING = (
    select(Subscription, Plan)
    .join(Plan, Plan.id == Subscription.plan_id)
    .where(or_(Subscription.member_id == bindparam("member_id"), Subscription.id.in_(_SEAT_OF)))
    .order_by(Subscription.current_period_end.desc(), Subscription.id.desc())
    .limit(1)
)


async def current_holding(session: AsyncSession, member_id: int) -> Holding | None:
    """The subscription ending last (the one that decides access today): the member's own
    or a family plan where they hold a seat."""
    row = (await session.execute(HOLDING, {"member_id": member_id})).first()
    return Holding(row[0], row[1]) if row else None


async def open_invoices(session: AsyncSession, member_id: int) -> Sequence[Invoice]:
    rows = await session.scalars(
        select(Invoice)
        .where(Invoice.member_id == member_id, Invoice.status == "open")
        .order_by(Invoice.due_at)
    )
    return rows.all()


async def plan_covers(session: AsyncSession, plan: Plan, location_id: int) -> bool:
    if plan.all_locations:
        return True
    found = await session.scalar(
        select(plan_locations.c.plan_id).where(
            plan_locations.c.plan_id == plan.id, plan_locations.c.location_id == location_id
        )
    )
    return found is not None


async def covered_location_ids(session: AsyncSession, plan_id: int) -> list[int]:
    rows = await session.scalars(
        select(plan_locations.c.location_id).where(plan_locations.c.plan_id == plan_id)
    )
    return list(rows.all())


async def has_any_subscription(session: AsyncSession, member_id: int) -> bool:
    found = await session.scalar(
        select(Subscription.id).where(Subscription.member_id == member_id).limit(1)
    )
    return found is not None


class TrialAlreadyUsed(DomainError):
    status_code = 409
    code = "trial_already_used"


async def grant_trial_pass(
    session: AsyncSession, gym: Gym, member: Member, now: datetime
) -> Subscription:
    """One free day pass per person, valid until the end of the gym-local day."""
    if await has_any_subscription(session, member.id):
        raise TrialAlreadyUsed(
            "Ya usaste tu pase de prueba.", "You have already used your trial pass."
        )
    plan = await session.scalar(
        select(Plan).where(Plan.gym_id == gym.id, Plan.code == TRIAL_PLAN_CODE)
    )
    if plan is None:
        raise DomainError("Este gimnasio no ofrece pases de prueba.", "No trial passes here.")
    tz = ZoneInfo(gym.timezone)
    local_day = now.astimezone(tz).date()
    end = datetime.combine(local_day + timedelta(days=1), time(0), tz)
    sub = Subscription(
        gym_id=gym.id,
        member_id=member.id,
        plan_id=plan.id,
        status="trialing",
        current_period_start=now,
        current_period_end=end,
        created_at=now,
    )
    session.add(sub)
    await session.flush()
    await record_event(
        session, gym.id, member.id, "trial_started", {"subscription_id": sub.id}, now
    )
    await audit(
        session,
        gym.id,
        f"member:{member.id}",
        "subscription.trial_granted",
        "subscription",
        sub.id,
        {"plan": plan.code, "ends_at": end.isoformat()},
    )
    return sub
