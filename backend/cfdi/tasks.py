"""The CFDI jobs' work: each step in its own short transaction (workers/jobs.py wraps them).

- `issue_for_payment`: claim + stamp one payment's Ingreso (enqueued where a payment is
  applied, and by a member's request).
- `sweep`: the safety net that needs no one to enqueue anything: Ingresos for approved
  payments of members with fiscal data (cash, Mercado Pago, the billing cycle's bulk
  charges), Egresos for refunds, then every pending stamp that is due (retries).
- `issue_globals`: each gym's factura global for the period that just closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.cfdi.globals import issue_global, last_closed_period
from backend.cfdi.issuing import (
    claim_ingreso,
    eligible_payment_ids,
    issue_credit_note,
    refunded_without_credit_note,
)
from backend.cfdi.models import GymFiscalProfile
from backend.cfdi.stamper import InvoiceStamper
from backend.cfdi.stamping import due_documents, stamp_document
from backend.db import transaction
from backend.gyms.models import Gym
from backend.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["issue_for_payment", "issue_globals", "stamp_document", "sweep"]


@dataclass
class SweepReport:
    claimed: int = 0
    credit_notes: int = 0
    stamped: int = 0
    retrying: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def issue_for_payment(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    payment_id: int,
    *,
    clock: Callable[[], datetime],
    stamper: InvoiceStamper | None = None,
) -> str:
    async with transaction(sessionmaker) as session:
        document = await claim_ingreso(session, settings, payment_id, clock())
        document_id = document.id if document is not None and document.status == "pending" else None
    if document_id is None:
        return "nothing"
    return await stamp_document(sessionmaker, settings, document_id, clock=clock, stamper=stamper)


async def _stamp_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    report: SweepReport,
    clock: Callable[[], datetime],
    stamper: InvoiceStamper | None,
) -> None:
    async with transaction(sessionmaker) as session:
        due = await due_documents(session, clock())
    for document_id in due:
        status = await stamp_document(
            sessionmaker, settings, document_id, clock=clock, stamper=stamper
        )
        if status == "stamped":
            report.stamped += 1
        elif status == "failed":
            report.failed += 1
        elif status == "pending":
            report.retrying += 1


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    clock: Callable[[], datetime],
    stamper: InvoiceStamper | None = None,
) -> SweepReport:
    report = SweepReport()
    async with transaction(sessionmaker) as session:
        payment_ids = await eligible_payment_ids(session, clock())
    for payment_id in payment_ids:
        async with transaction(sessionmaker) as session:
            if await claim_ingreso(session, settings, payment_id, clock()) is not None:
                report.claimed += 1
    async with transaction(sessionmaker) as session:
        refunded = await refunded_without_credit_note(session, clock())
    for payment_id in refunded:
        async with transaction(sessionmaker) as session:
            if await issue_credit_note(session, settings, payment_id, clock()) is not None:
                report.credit_notes += 1
    await _stamp_due(sessionmaker, settings, report, clock, stamper)
    return report


async def issue_globals(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    clock: Callable[[], datetime],
    stamper: InvoiceStamper | None = None,
) -> int:
    """Each gym's factura global for its last closed period (once: keyed by period)."""
    # Members' own CFDIs first, so their tickets are not swept into the global.
    await sweep(sessionmaker, settings, clock=clock, stamper=stamper)
    async with transaction(sessionmaker) as session:
        gyms = (
            await session.execute(
                select(Gym, GymFiscalProfile.global_periodicity).join(
                    GymFiscalProfile, GymFiscalProfile.gym_id == Gym.id
                )
            )
        ).all()
    issued = 0
    for gym, periodicity in gyms:
        async with transaction(sessionmaker) as session:
            period = last_closed_period(gym, periodicity, clock())
            if await issue_global(session, settings, gym, period, clock()) is not None:
                issued += 1
    report = SweepReport()
    await _stamp_due(sessionmaker, settings, report, clock, stamper)
    return issued
