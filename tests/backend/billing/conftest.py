"""A gym with a monthly plan, members due for renewal, and the in-process fake provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.models import Plan, Subscription
from backend.gyms.models import Gym
from backend.integrations.fake_payments import FakePaymentProvider
from backend.members.models import Member
from backend.payments.models import PaymentMethod
from backend.types import utcnow
from tests.factories import make_gym, make_member, make_plan


@dataclass
class Billing:
    gym: Gym
    basico: Plan
    premium: Plan
    provider: FakePaymentProvider
    now: datetime


@pytest.fixture
async def billing(session: AsyncSession) -> Billing:
    gym = await make_gym(session)
    basico = await make_plan(session, gym, "basico", 49900, class_credits=8)
    premium = await make_plan(session, gym, "premium", 79900)
    await session.commit()
    # Mid-morning in Mexico City, outside quiet hours.
    now = utcnow().replace(hour=17, minute=0, second=0, microsecond=0)
    return Billing(gym, basico, premium, FakePaymentProvider(), now)


async def member_due(
    session: AsyncSession,
    b: Billing,
    phone: str,
    plan: Plan | None = None,
    *,
    card: str | None = "card-ok",
    status: str = "active",
    ended_ago: timedelta = timedelta(hours=1),
) -> tuple[Member, Subscription]:
    """A member whose period ended `ended_ago` before `b.now`, with a default card or none."""
    plan = plan or b.basico
    member = await make_member(session, b.gym, phone=phone, name=f"Socio {phone[-4:]}")
    end = b.now - ended_ago
    sub = Subscription(
        gym_id=b.gym.id,
        member_id=member.id,
        plan_id=plan.id,
        status=status,
        current_period_start=end - timedelta(days=30),
        current_period_end=end,
        class_credits_remaining=2,
        created_at=end - timedelta(days=30),
        updated_at=end - timedelta(days=30),
    )
    session.add(sub)
    if card:
        session.add(
            PaymentMethod(
                gym_id=b.gym.id,
                member_id=member.id,
                provider="fake",
                provider_customer_id=f"cus-{phone}",
                provider_card_id=card,
                brand="visa",
                last4="4242",
                is_default=True,
                created_at=end,
            )
        )
    await session.flush()
    return member, sub


@pytest.fixture
async def billing_committed(committed_sessionmaker: async_sessionmaker[AsyncSession]) -> Billing:
    """`billing` with real commits (for concurrency tests)."""
    async with committed_sessionmaker() as session:
        gym = await make_gym(session)
        basico = await make_plan(session, gym, "basico", 49900, class_credits=8)
        premium = await make_plan(session, gym, "premium", 79900)
        await session.commit()
    now = utcnow().replace(hour=17, minute=0, second=0, microsecond=0)
    return Billing(gym, basico, premium, FakePaymentProvider(), now)
