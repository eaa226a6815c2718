"""Visit statistics on the gym's local calendar (America/Mexico_City, UTC-6, no DST)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from backend.checkins.service import VisitStats, compute_stats

MX = ZoneInfo("America/Mexico_City")


def local(y: int, m: int, d: int, hh: int = 18, mm: int = 0) -> datetime:
    """A gym-local wall-clock time, as the UTC instant the database stores."""
    return datetime(y, m, d, hh, mm, tzinfo=MX).astimezone(UTC)


# Weeks start on Monday: 2025-03-10 is a Monday, so 2025-03-12 is a Wednesday.
NOW = local(2025, 3, 12, 18, 0)


def test_no_visits() -> None:
    assert compute_stats([], MX, NOW) == VisitStats(visits_this_month=0, week_streak=0)


def test_visits_this_month_and_streak_through_the_current_week() -> None:
    times = [local(2025, 3, 11), local(2025, 3, 12, 7), local(2025, 3, 4), local(2025, 2, 25)]
    assert compute_stats(times, MX, NOW) == VisitStats(visits_this_month=3, week_streak=3)


def test_late_visit_on_last_day_of_previous_month_is_not_this_month() -> None:
    late = local(2025, 2, 28, 23, 30)
    assert (late.month, late.day) == (3, 1)  # already March in UTC
    stats = compute_stats([late, local(2025, 3, 11)], MX, NOW)
    assert stats.visits_this_month == 1


def test_early_morning_utc_of_the_first_counts_for_the_new_local_month() -> None:
    # 00:30 local on April 1st is 06:30 UTC; "now" late on April 1st local is April 2nd UTC.
    now = local(2025, 4, 1, 20, 0)
    stats = compute_stats([local(2025, 4, 1, 0, 30), local(2025, 3, 31, 23, 59)], MX, now)
    assert stats.visits_this_month == 1


def test_same_month_a_year_earlier_does_not_count() -> None:
    stats = compute_stats([local(2024, 3, 12), local(2025, 3, 3)], MX, NOW)
    assert stats.visits_this_month == 1


def test_empty_current_week_does_not_break_the_streak() -> None:
    times = [local(2025, 3, 4), local(2025, 2, 26), local(2025, 2, 17)]
    assert compute_stats(times, MX, NOW) == VisitStats(visits_this_month=1, week_streak=3)


def test_a_gap_week_breaks_the_streak() -> None:
    # Weeks of Mar 10 and Mar 3 have visits, Feb 24 has none, Feb 17 does.
    times = [local(2025, 3, 11), local(2025, 3, 5), local(2025, 2, 18)]
    assert compute_stats(times, MX, NOW).week_streak == 2


def test_empty_current_and_previous_week_means_no_streak() -> None:
    times = [local(2025, 2, 25), local(2025, 2, 18)]
    assert compute_stats(times, MX, NOW).week_streak == 0


def test_several_visits_in_one_week_count_as_one_week() -> None:
    times = [local(2025, 3, 10, 7), local(2025, 3, 11, 7), local(2025, 3, 12, 7)]
    assert compute_stats(times, MX, NOW) == VisitStats(visits_this_month=3, week_streak=1)


def test_sunday_night_local_belongs_to_the_week_it_is_in_locally() -> None:
    # Sunday Mar 9 at 23:30 local is Monday Mar 10 05:30 UTC: locally it is last week.
    now = local(2025, 3, 10, 10, 0)
    times = [local(2025, 3, 9, 23, 30), local(2025, 2, 26)]
    # Local weeks: Mar 10 empty (not yet broken), Mar 3 has the Sunday visit, Feb 24 too.
    assert compute_stats(times, MX, now).week_streak == 2


def test_streak_runs_across_new_year() -> None:
    now = local(2026, 1, 7, 9, 0)  # Wednesday
    times = [local(2026, 1, 5), local(2025, 12, 31), local(2025, 12, 23), local(2025, 12, 16)]
    assert compute_stats(times, MX, now) == VisitStats(visits_this_month=1, week_streak=4)


def test_now_in_another_zone_is_read_in_the_gym_zone() -> None:
    # 03:00 UTC on March 1st is still February 28th in Mexico City.
    now = datetime(2025, 3, 1, 3, 0, tzinfo=UTC)
    stats = compute_stats([local(2025, 2, 27), local(2025, 2, 28, 10), local(2025, 1, 31)], MX, now)
    assert stats.visits_this_month == 2
