"""Per-gym invoice numbering: `A-000123`, gap-free within a committed series."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, InvoiceSeries


def format_number(series: str, seq: int) -> str:
    return f"{series}-{seq:06d}"


async def _highest_used(session: AsyncSession, gym_id: int, series: str) -> int:
    numbers = await session.scalars(
        select(Invoice.number).where(Invoice.gym_id == gym_id, Invoice.number.startswith(series))
    )
    pattern = re.compile(re.escape(series) + r"-(\d+)")
    return max((int(m[1]) for n in numbers if (m := pattern.fullmatch(n))), default=0)


async def take_numbers(session: AsyncSession, gym_id: int, series: str, count: int) -> list[str]:
    """Reserve `count` consecutive numbers; the series row stays locked until commit."""
    if count <= 0:
        return []
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = update(InvoiceSeries).where(
        InvoiceSeries.gym_id == gym_id, InvoiceSeries.series == series
    )
    end = await session.scalar(
        stmt.values(next_number=InvoiceSeries.next_number + count).returning(
            InvoiceSeries.next_number
        )
    )
    if end is None:  # first invoice of this series: start after any number already used
        first = await _highest_used(session, gym_id, series) + 1
        await session.execute(
            insert(InvoiceSeries)
            .values(gym_id=gym_id, series=series, next_number=first)
            .on_conflict_do_nothing()
        )
        end = await session.scalar(
            stmt.values(next_number=InvoiceSeries.next_number + count).returning(
                InvoiceSeries.next_number
            )
        )
    assert end is not None
    return [format_number(series, n) for n in range(end - count, end)]
