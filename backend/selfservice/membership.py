"""Membership changes a member makes in the chat: freezes (with the gym's limits and fee),
retention offers when cancelling, and the cancellation feedback retention analytics read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.invoices import InvoiceDraft, LineDraft, issue_invoice
from backend.billing.models import Invoice, Plan, Subscription
from backend.billing.policy import BillingPolicy, policy_of
from backend.billing.subscriptions import pause
from backend.gyms.models import Gym
from backend.members.models import MemberEvent
from backend.members.service import audit, record_event
from backend.selfservice.service import RetentionOffer


@dataclass(frozen=True)
class FreezeAllowance:
    policy: BillingPolicy
    used_this_year: int

    @property
    def left(self) -> int:
        return max(self.policy.pauses_per_year - self.used_this_year, 0)


async def freeze_allowance(
    session: AsyncSession, gym: Gym, member_id: int, now: datetime
) -> FreezeAllowance:
    """The gym's freeze rules and how many freezes the member used in the last 365 days
    (counted the way `subscriptions.pause` counts them)."""
    used = await session.scalar(
        select(func.count())
        .select_from(MemberEvent)
        .where(
            MemberEvent.gym_id == gym.id,
            MemberEvent.member_id == member_id,
            MemberEvent.kind == "subscription_paused",
            MemberEvent.occurred_at >= now - timedelta(days=365),
        )
    )
    return FreezeAllowance(policy_of(gym.billing_settings), int(used or 0))


async def freeze(
    session: AsyncSession, gym: Gym, sub: Subscription, days: int, *, actor: str, now: datetime
) -> Invoice | None:
    """Pause billing and access for `days` (resumed by the billing cycle at `resume_at`);
    the gym's freeze fee, if any, is invoiced at once. Returns that invoice."""
    await pause(session, gym, sub, days, actor=actor, now=now)
    policy = policy_of(gym.billing_settings)
    if policy.pause_fee_cents <= 0:
        return None
    return await issue_invoice(
        session,
        gym.id,
        policy.series,
        InvoiceDraft(
            member_id=sub.member_id,
            reason="pause_fee",
            due_at=now,
            lines=[
                LineDraft(
                    "fee", f"Congelamiento de membresía ({days} días)", policy.pause_fee_cents, 1
                )
            ],
            idempotency_key=f"pause-fee:{sub.id}:{now.isoformat()}",
            subscription_id=sub.id,
            apply_credit=True,
        ),
        now,
    )


async def cheaper_plan(
    session: AsyncSession, gym_id: int, current: Plan, offer: RetentionOffer, now: datetime
) -> Plan | None:
    """The plan a downgrade offer proposes: the configured one, else the most expensive
    public plan that still costs less than the member's (a small step down)."""
    plans = (
        await session.scalars(
            select(Plan).where(
                Plan.gym_id == gym_id,
                Plan.active.is_(True),
                Plan.public.is_(True),
                Plan.kind == "membership",
                Plan.id != current.id,
            )
        )
    ).all()
    cheaper = [
        p for p in plans if 0 < p.price_at(now) < current.price_at(now) and p.interval != "day"
    ]
    if offer.plan_code:
        cheaper = [p for p in cheaper if p.code == offer.plan_code]
    return max(cheaper, key=lambda p: p.price_at(now), default=None)


def discount_credit(plan: Plan, offer: RetentionOffer, now: datetime) -> int:
    """A retention discount, given as balance credit applied to the next invoices."""
    return plan.price_at(now) * offer.percent * offer.months // 100


async def grant_discount(
    session: AsyncSession,
    gym_id: int,
    sub: Subscription,
    plan: Plan,
    offer: RetentionOffer,
    *,
    actor: str,
    now: datetime,
) -> int:
    amount = discount_credit(plan, offer, now)
    if amount > 0:
        await credits.grant(
            session,
            gym_id=gym_id,
            member_id=sub.member_id,
            amount_cents=amount,
            reason="retention",
            actor=actor,
            now=now,
            note=f"{offer.percent}% x {offer.months} ({plan.name})",
            idempotency_key=f"retention:{sub.id}:{now.date().isoformat()}",
        )
    return amount


async def record_cancel_feedback(
    session: AsyncSession,
    sub: Subscription,
    *,
    reason: str,
    text: str,
    offer: str | None,
    outcome: str,
    actor: str,
    now: datetime,
) -> None:
    """Why a member wanted to leave, what was offered and what they chose (retention
    analytics read `cancellation_feedback` events)."""
    data = {
        "subscription_id": sub.id,
        "reason": reason,
        "text": text[:300],
        "offer": offer,
        "outcome": outcome,  # canceled | accepted_offer | kept
    }
    await record_event(session, sub.gym_id, sub.member_id, "cancellation_feedback", data, now)
    await audit(
        session, sub.gym_id, actor, "subscription.cancel_feedback", "subscription", sub.id, data
    )
