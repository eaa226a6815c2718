"""Revenue reporting: MRR, members, new/churned, deferred/recognized revenue, AR aging.

Revenue is recognized net of IVA (the tax is owed to SAT, not earned), day by day over the
period an invoice pays for, on the gym's local calendar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription, SubscriptionAddon
from backend.billing.service import TRIAL_PLAN_CODE

# Monthly equivalents of one interval, as (numerator, denominator) to stay in integers.
MONTHLY = {"week": (52, 12), "month": (1, 1), "quarter": (1, 3), "year": (1, 12)}
PAYING = ("active", "past_due")
AGING_BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


@dataclass
class MonthFigures:
    month: str
    new_members: int = 0
    churned_members: int = 0
    invoiced_cents: int = 0
    collected_cents: int = 0
    recognized_cents: int = 0
    deferred_cents: int = 0


@dataclass
class RevenueReport:
    as_of: datetime
    mrr_cents: int
    active_members: int
    months: list[MonthFigures]
    receivables: dict[str, int] = field(default_factory=dict)


def monthly_cents(price_cents: int, interval: str, count: int) -> int:
    if interval not in MONTHLY:
        return 0
    num, den = MONTHLY[interval]
    return round(price_cents * num / (den * max(count, 1)))


def _month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months(first: date, last: date) -> list[date]:
    out, cur = [], first.replace(day=1)
    while cur <= last:
        out.append(cur)
        cur = (cur + timedelta(days=32)).replace(day=1)
    return out


async def revenue_report(
    session: AsyncSession, gym_id: int, tz: ZoneInfo, first: date, last: date, now: datetime
) -> RevenueReport:
    months = _months(first, last)
    figures = {_month_key(m): MonthFigures(_month_key(m)) for m in months}

    live = (
        (
            await session.execute(
                select(
                    Subscription.id,
                    Subscription.member_id,
                    Plan.price_cents,
                    Plan.interval,
                    Plan.interval_count,
                )
                .join(Plan, Plan.id == Subscription.plan_id)
                .where(Subscription.gym_id == gym_id, Subscription.status.in_(PAYING))
            )
        )
        .tuples()
        .all()
    )
    mrr = sum(monthly_cents(price, interval, count) for _, _, price, interval, count in live)
    addon_rows = (
        (
            await session.execute(
                select(Plan.price_cents, Plan.interval, Plan.interval_count)
                .join(SubscriptionAddon, SubscriptionAddon.plan_id == Plan.id)
                .join(Subscription, Subscription.id == SubscriptionAddon.subscription_id)
                .where(Subscription.gym_id == gym_id, Subscription.status.in_(PAYING))
            )
        )
        .tuples()
        .all()
    )
    mrr += sum(monthly_cents(p, i, c) for p, i, c in addon_rows)
    active_members = len({member for _, member, *_ in live})

    # New: a member's first paid-plan subscription; churned: a member whose last
    # subscription ended that month without another one live (a subscription ended before
    # `ended_at` was recorded counts at its period end).
    subs = (
        (
            await session.execute(
                select(
                    Subscription.member_id,
                    Subscription.created_at,
                    func.coalesce(Subscription.ended_at, Subscription.current_period_end),
                    Subscription.status,
                )
                .join(Plan, Plan.id == Subscription.plan_id)
                .where(
                    Subscription.gym_id == gym_id,
                    Plan.code != TRIAL_PLAN_CODE,
                    Plan.interval != "day",
                )
            )
        )
        .tuples()
        .all()
    )
    first_start: dict[int, datetime] = {}
    last_end: dict[int, datetime] = {}
    still_live: set[int] = set()
    for member_id, created, ended, status in subs:
        first_start[member_id] = min(created, first_start.get(member_id, created))
        if status in ("canceled", "expired"):
            last_end[member_id] = max(ended, last_end.get(member_id, ended))
        else:
            still_live.add(member_id)
    for started in first_start.values():
        key = _month_key(started.astimezone(tz).date())
        if key in figures:
            figures[key].new_members += 1
    for member_id, ended in last_end.items():
        key = _month_key(ended.astimezone(tz).date())
        if member_id not in still_live and key in figures:
            figures[key].churned_members += 1

    invoices = (
        (
            await session.execute(
                select(
                    Invoice.status,
                    Invoice.total_cents,
                    Invoice.subtotal_cents,
                    Invoice.issued_at,
                    Invoice.paid_at,
                    Invoice.period_start,
                    Invoice.period_end,
                ).where(Invoice.gym_id == gym_id, Invoice.status.in_(("open", "paid")))
            )
        )
        .tuples()
        .all()
    )
    recognized: dict[str, int] = defaultdict(int)
    month_ends = {_month_key(m): _next_month(m) for m in months}
    for status, total, subtotal, issued, paid, start, end in invoices:
        key = _month_key(issued.astimezone(tz).date())
        if key in figures:
            figures[key].invoiced_cents += total
        if status != "paid" or paid is None:
            continue
        paid_key = _month_key(paid.astimezone(tz).date())
        if paid_key in figures:
            figures[paid_key].collected_cents += total
        for month_key, share in _spread(subtotal, start or paid, end or paid, tz).items():
            recognized[month_key] += share
        # Deferred at each month end: paid by then, not yet earned by then.
        for month_key, month_end in month_ends.items():
            if paid.astimezone(tz).date() < month_end:
                earned = sum(
                    v
                    for k, v in _spread(subtotal, start or paid, end or paid, tz).items()
                    if k <= month_key
                )
                figures[month_key].deferred_cents += subtotal - earned
    for key, fig in figures.items():
        fig.recognized_cents = recognized.get(key, 0)

    return RevenueReport(
        as_of=now,
        mrr_cents=mrr,
        active_members=active_members,
        months=list(figures.values()),
        receivables=await receivables_aging(session, gym_id, tz, now),
    )


def _next_month(m: date) -> date:
    return (m + timedelta(days=32)).replace(day=1)


def _spread(amount: int, start: datetime, end: datetime, tz: ZoneInfo) -> dict[str, int]:
    """Split `amount` over the local days from start to end, by month; shares sum to it."""
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    days = (last - first).days
    if days <= 0:
        return {_month_key(first): amount}
    shares: dict[str, int] = {}
    given, cur = 0, first
    while cur < last:
        nxt = min(_next_month(cur.replace(day=1)), last)
        given_to = (nxt - first).days
        # Cumulative rounding: the running total is rounded, so no centavo is lost.
        upto = round(amount * given_to / days)
        shares[_month_key(cur)] = shares.get(_month_key(cur), 0) + upto - given
        given, cur = upto, nxt
    return shares


async def receivables_aging(
    session: AsyncSession, gym_id: int, tz: ZoneInfo, now: datetime
) -> dict[str, int]:
    """Open amounts by how late they are (local calendar days past the due date)."""
    buckets = dict.fromkeys(AGING_BUCKETS, 0)
    today = now.astimezone(tz).date()
    rows = await session.execute(
        select(Invoice.due_at, func.sum(Invoice.amount_due_cents))
        .where(Invoice.gym_id == gym_id, Invoice.status == "open")
        .group_by(Invoice.due_at)
    )
    for due_at, amount in rows.tuples():
        late = (today - due_at.astimezone(tz).date()).days
        if late <= 0:
            bucket = "current"
        elif late <= 30:
            bucket = "1_30"
        elif late <= 60:
            bucket = "31_60"
        elif late <= 90:
            bucket = "61_90"
        else:
            bucket = "over_90"
        buckets[bucket] += int(amount or 0)
    return buckets


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(month.replace(day=1), time(0), tz),
        datetime.combine(_next_month(month), time(0), tz),
    )
