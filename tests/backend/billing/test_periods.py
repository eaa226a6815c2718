from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from backend.billing.periods import days_between, period_end

MX = ZoneInfo("America/Mexico_City")


def test_month_keeps_local_wall_time_and_clamps_short_months() -> None:
    start = datetime(2026, 1, 31, 10, 0, tzinfo=MX)
    assert period_end(start, "month", 1, MX) == datetime(2026, 2, 28, 10, 0, tzinfo=MX)
    assert period_end(start, "quarter", 1, MX) == datetime(2026, 4, 30, 10, 0, tzinfo=MX)
    assert period_end(start, "year", 1, MX) == datetime(2027, 1, 31, 10, 0, tzinfo=MX)
    assert period_end(start, "week", 2, MX) == datetime(2026, 2, 14, 10, 0, tzinfo=MX)


def test_day_pass_ends_at_local_midnight() -> None:
    late = datetime(2026, 11, 24, 5, 30, tzinfo=UTC)  # 23:30 the day before in CDMX
    assert period_end(late, "day", 1, MX) == datetime(2026, 11, 24, 0, 0, tzinfo=MX)


def test_days_between_counts_local_days() -> None:
    a = datetime(2026, 11, 1, 12, tzinfo=MX)
    assert days_between(a, datetime(2026, 12, 1, 12, tzinfo=MX), MX) == 30
    assert days_between(a, datetime(2026, 11, 1, 18, tzinfo=MX), MX) == 1
    assert days_between(a, a, MX) == 0
