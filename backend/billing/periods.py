"""Billing periods on the gym's local calendar: a month is a calendar month there."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _add_months(day: date, months: int) -> date:
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: datetime, interval: str, count: int, tz: ZoneInfo) -> datetime:
    """End of a period beginning at `start`: same local wall time `count` intervals later.

    Day passes end at the next local midnight; months clamp to the month's last day
    (a period starting on the 31st ends on the 30th of a 30-day month).
    """
    local = start.astimezone(tz)
    if interval == "day":
        end_day = local.date() + timedelta(days=count)
        return datetime.combine(end_day, time(0), tz)
    if interval == "week":
        end_local = datetime.combine(local.date() + timedelta(weeks=count), local.time(), tz)
    else:
        months = MONTHS[interval] * count
        end_local = datetime.combine(_add_months(local.date(), months), local.time(), tz)
    return end_local


def days_between(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Whole local calendar days from start to end (at least 1 for a non-empty span)."""
    days = (end.astimezone(tz).date() - start.astimezone(tz).date()).days
    return max(days, 1 if end > start else 0)
