"""Revenue figures: recognition spreads to the centavo, churn, MRR, receivables aging."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.reports import _spread, monthly_cents, revenue_report
from tests.backend.billing.conftest import Billing, member_due
from tests.factories import make_invoice

MX = ZoneInfo("America/Mexico_City")


@given(
    st.integers(min_value=0, max_value=5_000_000),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)),
    st.integers(min_value=0, max_value=400),
)
def test_recognition_spreads_exactly(amount: int, start: date, days: int) -> None:
    begin = datetime(start.year, start.month, start.day, 10, tzinfo=MX)
    shares = _spread(amount, begin, begin + timedelta(days=days), MX)
    assert sum(shares.values()) == amount
    assert all(v >= 0 for v in shares.values())


def test_monthly_equivalents() -> None:
    assert monthly_cents(49900, "month", 1) == 49900
    assert monthly_cents(599000, "year", 1) == 49917
    assert monthly_cents(130000, "quarter", 1) == 43333
    assert monthly_cents(15000, "day", 1) == 0


async def test_churn_mrr_and_aging(session: AsyncSession, billing: Billing) -> None:
    now = billing.now
    _, stays = await member_due(session, billing, "+525550000001", ended_ago=-timedelta(days=10))
    _, leaves = await member_due(session, billing, "+525550000002", billing.premium)
    leaves.status, leaves.ended_at = "canceled", now - timedelta(days=1)
    late, _ = await member_due(
        session, billing, "+525550000003", status="past_due", ended_ago=-timedelta(days=5)
    )
    await make_invoice(session, late, 49900, due_in_days=-40, number="A-000900")
    await session.flush()

    month = now.astimezone(MX).date().replace(day=1)
    report = await revenue_report(session, billing.gym.id, MX, month, month, now)

    assert report.mrr_cents == 49900 * 2  # the active and the past-due one
    assert report.active_members == 2
    ended_month = (now - timedelta(days=1)).astimezone(MX).date().replace(day=1)
    if ended_month == month:
        assert report.months[0].churned_members == 1
    assert report.receivables["31_60"] == 49900
    assert stays.status == "active"
