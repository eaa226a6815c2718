"""A gym with a referral program, an active referrer and a prospect friend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import subscriptions
from backend.billing.models import Invoice, Plan
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.payments.service import record_cash_payment
from backend.referrals import service
from backend.referrals.models import ReferralCode, ReferralProgram
from backend.types import utcnow
from tests.factories import make_member, make_referral_program, make_subscription, standard_gym


@dataclass
class Ref:
    gym: Gym
    premium: Plan
    basico: Plan
    ana: Member
    program: ReferralProgram
    code: ReferralCode
    now: datetime


@pytest.fixture
async def ref(session: AsyncSession) -> Ref:
    gym, _, _, premium, basico = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    program = await make_referral_program(session, gym)
    now = utcnow().replace(hour=17, minute=0, second=0, microsecond=0)
    code = await service.issue_code(session, gym, ana, now, actor="test")
    await session.flush()
    return Ref(gym, premium, basico, ana, program, code, now)


_phones = iter(range(100_000, 999_999))


async def friend(session: AsyncSession, r: Ref, name: str = "Sofía Ruiz") -> Member:
    return await make_member(
        session, r.gym, phone=f"+525511{next(_phones)}", name=name, status="prospect"
    )


async def signs_up_and_pays(
    session: AsyncSession, r: Ref, member: Member, plan: Plan | None = None
) -> Invoice:
    """The friend starts a plan and pays the first invoice in cash at the front desk."""
    _, invoice = await subscriptions.start(
        session, gym=r.gym, member=member, plan=plan or r.premium, actor="staff:1", now=r.now
    )
    assert invoice is not None
    await record_cash_payment(
        session,
        r.gym.id,
        invoice.id,
        invoice.amount_due_cents,
        actor="staff:1",
        now=r.now,
        reference="caja",
    )
    return invoice
