"""Fraud rules of referrals.

At redemption: a member's own code, a friend who already redeemed one (the first code
wins, enforced by a unique key), a current or recent ex-member posing as new, and the
redemption velocity of one code. At conversion: the paying card or the fiscal RFC shared
with the referrer (self-referral) or with a recent ex-member. Hard cases are refused;
doubtful ones go to the staff review queue with the reasons as flags.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Subscription
from backend.cfdi.models import MemberFiscalProfile
from backend.payments.models import Payment, PaymentMethod
from backend.referrals.models import Referral, ReferralCode

VELOCITY_WINDOW = timedelta(hours=24)


async def member_fiscal_rfc(session: AsyncSession, gym_id: int, member_id: int) -> str | None:
    """The RFC the member gave for their CFDIs, if any."""
    rfc: str | None = await session.scalar(
        select(MemberFiscalProfile.rfc).where(
            MemberFiscalProfile.gym_id == gym_id, MemberFiscalProfile.member_id == member_id
        )
    )
    return rfc


async def last_paid_at(session: AsyncSession, gym_id: int, member_id: int) -> datetime | None:
    """When the member last paid real money (a paid invoice not fully covered by credit)."""
    found: datetime | None = await session.scalar(
        select(func.max(Invoice.paid_at)).where(
            Invoice.gym_id == gym_id,
            Invoice.member_id == member_id,
            Invoice.status == "paid",
            Invoice.total_cents > Invoice.credit_applied_cents,
        )
    )
    return found


async def first_paid_at(session: AsyncSession, gym_id: int, member_id: int) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.min(Invoice.paid_at)).where(
            Invoice.gym_id == gym_id,
            Invoice.member_id == member_id,
            Invoice.status == "paid",
            Invoice.total_cents > Invoice.credit_applied_cents,
        )
    )
    return found


async def membership_end(session: AsyncSession, gym_id: int, member_id: int) -> datetime | None:
    """When the member's last paid-for membership ended (or ends)."""
    found: datetime | None = await session.scalar(
        select(func.max(Subscription.current_period_end))
        .join(Invoice, Invoice.subscription_id == Subscription.id)
        .where(
            Subscription.gym_id == gym_id,
            Subscription.member_id == member_id,
            Invoice.status == "paid",
            Invoice.total_cents > Invoice.credit_applied_cents,
        )
    )
    return found


async def newcomer_refusal(
    session: AsyncSession, gym_id: int, member_id: int, ex_member_days: int, now: datetime
) -> str | None:
    """Why this person cannot be referred as new: "already_member" (pays today),
    "recent_ex_member" (paid within `ex_member_days`); None for a newcomer or an old
    ex-member coming back (win-back is welcome)."""
    paid = await last_paid_at(session, gym_id, member_id)
    if paid is None:
        return None
    ended = await membership_end(session, gym_id, member_id)
    last = max(paid, ended) if ended else paid
    if last > now:
        return "already_member"
    if last > now - timedelta(days=ex_member_days):
        return "recent_ex_member"
    return None


async def velocity_exceeded(
    session: AsyncSession, code: ReferralCode, per_day: int, now: datetime
) -> bool:
    """More friends than `per_day` on one code within 24 hours (this one included)."""
    recent = await session.scalar(
        select(func.count(Referral.id)).where(
            Referral.code_id == code.id, Referral.redeemed_at > now - VELOCITY_WINDOW
        )
    )
    return int(recent or 0) + 1 > per_day


async def _fingerprints(session: AsyncSession, gym_id: int, member_id: int) -> set[str]:
    rows = await session.scalars(
        select(PaymentMethod.fingerprint).where(
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.member_id == member_id,
            PaymentMethod.fingerprint.is_not(None),
        )
    )
    return {f for f in rows.all() if f}


async def _paying_fingerprints(session: AsyncSession, gym_id: int, member_id: int) -> set[str]:
    """Cards the member saved or paid with."""
    saved = await _fingerprints(session, gym_id, member_id)
    paid = await session.scalars(
        select(PaymentMethod.fingerprint)
        .join(Payment, Payment.payment_method_id == PaymentMethod.id)
        .where(
            Payment.gym_id == gym_id,
            Payment.member_id == member_id,
            PaymentMethod.fingerprint.is_not(None),
        )
    )
    return saved | {f for f in paid.all() if f}


async def conversion_flags(
    session: AsyncSession, referral: Referral, ex_member_days: int, now: datetime
) -> list[str]:
    """Reasons to hold a converting referral for review: "same_card" or "same_rfc" as the
    referrer (self-referral), "ex_member_card" (a card of someone who left recently)."""
    flags: list[str] = []
    gym_id = referral.gym_id
    cards = await _paying_fingerprints(session, gym_id, referral.referred_id)
    if cards and cards & await _paying_fingerprints(session, gym_id, referral.referrer_id):
        flags.append("same_card")
    rfc = await member_fiscal_rfc(session, gym_id, referral.referred_id)
    if rfc and rfc == await member_fiscal_rfc(session, gym_id, referral.referrer_id):
        flags.append("same_rfc")
    if cards:
        others = (
            await session.scalars(
                select(PaymentMethod.member_id)
                .where(
                    PaymentMethod.gym_id == gym_id,
                    PaymentMethod.fingerprint.in_(cards),
                    PaymentMethod.member_id.not_in([referral.referred_id, referral.referrer_id]),
                )
                .distinct()
            )
        ).all()
        for other in others:
            if (
                await newcomer_refusal(session, gym_id, other, ex_member_days, now)
                == "recent_ex_member"
            ):
                flags.append("ex_member_card")
                break
    return flags
