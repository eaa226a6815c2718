"""Never stamped twice: concurrent sweeps on real PostgreSQL; retries and the staff alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.cfdi.models import CfdiDocument
from backend.cfdi.stamper import PacUnavailable, Stamp
from backend.cfdi.tasks import sweep
from backend.integrations.pac_sim import SimulatedStamper
from backend.members.models import AuditEntry
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    make_fiscal_profile,
    make_gym,
    make_member,
    make_member_fiscal,
    make_payment,
)


async def _seed(maker: async_sessionmaker[AsyncSession], settings: Settings, payments: int) -> None:
    async with maker() as session:
        gym = await make_gym(session)
        await make_fiscal_profile(session, settings, gym)
        member = await make_member(session, gym)
        await make_member_fiscal(session, member)
        for i in range(payments):
            await make_payment(session, member, 10000 + i, "card")
        await session.commit()


async def test_concurrent_sweeps_stamp_each_payment_once(
    committed_sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row locks need PostgreSQL")
    await _seed(committed_sessionmaker, settings, 6)
    pac = SimulatedStamper()
    await asyncio.gather(
        *(sweep(committed_sessionmaker, settings, clock=utcnow, stamper=pac) for _ in range(4))
    )
    async with committed_sessionmaker() as session:
        docs = (await session.scalars(select(CfdiDocument))).all()
    assert len(docs) == 6 and all(d.status == "stamped" for d in docs)
    assert pac.stamp_calls == 6  # no payment went to the PAC twice
    assert len({d.folio for d in docs}) == 6


class DownPac:
    provider = "finkok"
    simulated = False

    def __init__(self) -> None:
        self.calls = 0

    async def stamp(self, signed_xml: bytes) -> Stamp:
        self.calls += 1
        raise PacUnavailable("connection refused")

    async def cancel(self, *args: object) -> object:
        raise PacUnavailable("down")


async def test_pac_down_retries_with_backoff_then_alerts_staff(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> None:
    await _seed(sessionmaker, settings, 1)
    pac = DownPac()
    now = utcnow()
    clock = [now]
    for step in range(4):
        await sweep(sessionmaker, settings, clock=lambda: clock[0], stamper=pac)
        clock[0] += timedelta(minutes=2**step + 1)
    document = await session.scalar(select(CfdiDocument).execution_options(populate_existing=True))
    assert document is not None and document.status == "pending"
    assert document.attempts == pac.calls == 4
    assert document.next_attempt_at > clock[0] - timedelta(minutes=9)
    assert document.alerted_at is not None
    alerts = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "cfdi.alert")
    )
    assert alerts == 1
    # The PAC is back: the same signed document is stamped on the next due sweep.
    clock[0] = document.next_attempt_at + timedelta(seconds=1)
    report = await sweep(sessionmaker, settings, clock=lambda: clock[0])
    assert report.stamped == 1
