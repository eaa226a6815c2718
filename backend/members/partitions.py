"""Monthly partitions of member_events on PostgreSQL (a cron job keeps months ahead ready)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def partition_ddl(year: int, month: int) -> str:
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return (
        f"CREATE TABLE IF NOT EXISTS member_events_{year:04d}_{month:02d} "
        # Explicit UTC bounds: a bare date would be read in the session's TimeZone.
        f"PARTITION OF member_events FOR VALUES FROM ('{start} 00:00:00+00') "
        f"TO ('{end} 00:00:00+00')"
    )


async def ensure_partitions(session: AsyncSession, today: date, months_ahead: int = 3) -> int:
    """Create this month's and the next months' partitions; returns how many were asked for."""
    if session.bind.dialect.name != "postgresql":
        return 0
    year, month = today.year, today.month
    for _ in range(months_ahead + 1):
        await session.execute(text(partition_ddl(year, month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months_ahead + 1
