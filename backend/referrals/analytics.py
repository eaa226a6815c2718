"""Referral analytics per program and gym-local month: codes issued, redemptions,
conversions, conversion rate, viral coefficient K, top referrers, and the revenue referred
members brought against what the rewards cost (ROI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice
from backend.members.models import Member
from backend.referrals import programs
from backend.referrals.models import Referral, ReferralCode, ReferralProgram, ReferralReward

CONVERTED = ("converted", "rewarded")
TOP_REFERRERS = 5


@dataclass
class TopReferrer:
    member_id: int
    name: str | None
    conversions: int
    tier: str | None


@dataclass
class Figures:
    codes_issued: int = 0
    redemptions: int = 0
    conversions: int = 0
    conversion_rate: float | None = None
    sharers: int = 0
    invites_per_member: float | None = None
    viral_k: float | None = None
    revenue_cents: int = 0
    reward_cost_cents: int = 0
    roi: float | None = None
    top_referrers: list[TopReferrer] = field(default_factory=list)


@dataclass
class MonthFigures(Figures):
    month: str = ""


def months_between(first: date, last: date) -> list[date]:
    out, cursor = [], first.replace(day=1)
    while cursor <= last:
        out.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return out


def _bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (
        datetime(month.year, month.month, 1, tzinfo=tz),
        datetime(nxt.year, nxt.month, 1, tzinfo=tz),
    )


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


async def _count(session: AsyncSession, query: object) -> int:
    return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def figures(
    session: AsyncSession, program: ReferralProgram, start: datetime, end: datetime
) -> Figures:
    pid = program.id
    f = Figures()
    f.codes_issued = await _count(
        session,
        select(func.count(ReferralCode.id)).where(
            ReferralCode.program_id == pid,
            ReferralCode.created_at >= start,
            ReferralCode.created_at < end,
        ),
    )
    f.redemptions = await _count(
        session,
        select(func.count(Referral.id)).where(
            Referral.program_id == pid, Referral.redeemed_at >= start, Referral.redeemed_at < end
        ),
    )
    f.conversions = await _count(
        session,
        select(func.count(Referral.id)).where(
            Referral.program_id == pid,
            Referral.status.in_(CONVERTED),
            Referral.converted_at >= start,
            Referral.converted_at < end,
        ),
    )
    # Members holding a code during the period: the ones who could invite.
    f.sharers = await _count(
        session,
        select(func.count(distinct(ReferralCode.member_id))).where(
            ReferralCode.program_id == pid,
            ReferralCode.created_at < end,
            ReferralCode.status != "revoked",
        ),
    )
    f.conversion_rate = _ratio(f.conversions, f.redemptions)
    f.invites_per_member = _ratio(f.redemptions, f.sharers)
    if f.invites_per_member is not None and f.conversion_rate is not None:
        f.viral_k = round(f.invites_per_member * f.conversion_rate, 4)
    elif f.sharers:
        f.viral_k = 0.0
    referred = select(Referral.referred_id).where(
        Referral.program_id == pid, Referral.status.in_(CONVERTED)
    )
    f.revenue_cents = await _count(
        session,
        select(
            func.coalesce(func.sum(Invoice.total_cents - Invoice.credit_applied_cents), 0)
        ).where(
            Invoice.gym_id == program.gym_id,
            Invoice.member_id.in_(referred),
            Invoice.status == "paid",
            Invoice.paid_at >= start,
            Invoice.paid_at < end,
        ),
    )
    f.reward_cost_cents = await _count(
        session,
        select(func.coalesce(func.sum(ReferralReward.amount_cents), 0)).where(
            ReferralReward.program_id == pid,
            ReferralReward.status == "granted",
            ReferralReward.granted_at >= start,
            ReferralReward.granted_at < end,
        ),
    )
    if f.reward_cost_cents:
        f.roi = round((f.revenue_cents - f.reward_cost_cents) / f.reward_cost_cents, 4)
    rows = await session.execute(
        select(Referral.referrer_id, Member.name, func.count(Referral.id).label("n"))
        .join(Member, Member.id == Referral.referrer_id)
        .where(
            Referral.program_id == pid,
            Referral.status.in_(CONVERTED),
            Referral.converted_at >= start,
            Referral.converted_at < end,
        )
        .group_by(Referral.referrer_id, Member.name)
        .order_by(func.count(Referral.id).desc(), Referral.referrer_id)
        .limit(TOP_REFERRERS)
    )
    for member_id, name, n in rows.tuples():
        total = await _count(
            session,
            select(func.count(Referral.id)).where(
                Referral.program_id == pid,
                Referral.referrer_id == member_id,
                Referral.status.in_(CONVERTED),
            ),
        )
        tier = programs.tier_for(program, total)
        f.top_referrers.append(
            TopReferrer(member_id, name, int(n), str(tier["name"]) if tier else None)
        )
    return f


async def program_analytics(
    session: AsyncSession, program: ReferralProgram, tz: ZoneInfo, first: date, last: date
) -> tuple[list[MonthFigures], Figures]:
    """Figures for each month from `first` to `last` (gym-local), and for the whole span."""
    months = []
    for month in months_between(first, last):
        start, end = _bounds(month, tz)
        got = await figures(session, program, start, end)
        months.append(MonthFigures(**vars(got), month=month.strftime("%Y-%m")))
    span_start, _ = _bounds(first.replace(day=1), tz)
    _, span_end = _bounds(last.replace(day=1), tz)
    return months, await figures(session, program, span_start, span_end)
