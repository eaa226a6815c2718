"""The factura global: payments of members without fiscal data, to público en general.

Issued right after each period closes (monthly by default, SAT c_Periodicidad 04), with
one concept per ticket (01010101 "Venta", NoIdentificacion = the receipt's folio). Tickets
that got their own CFDI are left out; a ticket inside a stamped global can no longer get
its own (see `nominative_request` in backend.cfdi.service).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice
from backend.cfdi import document as doc
from backend.cfdi.issuing import (
    finish_claim,
    forma_pago_of,
    insert_claim,
    issuer_of,
    local_time,
    lock_profile,
    public_receiver,
)
from backend.cfdi.models import CfdiDocument, CfdiGlobalItem
from backend.cfdi.profile import take_folio
from backend.gyms.models import Gym
from backend.payments.models import Payment
from backend.settings import Settings


@dataclass(frozen=True)
class Period:
    start: datetime  # local, aware
    end: datetime
    info: doc.GlobalPeriod

    @property
    def key(self) -> str:
        return f"{self.info.periodicity}:{self.start.date().isoformat()}"


def last_closed_period(gym: Gym, periodicity: str, now: datetime) -> Period:
    """The period that ended most recently (in the gym's time zone)."""
    local = now.astimezone(ZoneInfo(gym.timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if periodicity == "01":  # diario
        start = (midnight - timedelta(days=1)).replace(tzinfo=None)
        start_aware = start.replace(tzinfo=local.tzinfo)
        end = midnight
        return Period(start_aware, end, doc.GlobalPeriod("01", f"{start.month:02d}", start.year))
    end = midnight.replace(day=1)
    start = (end - timedelta(days=1)).replace(day=1)
    return Period(start, end, doc.GlobalPeriod("04", f"{start.month:02d}", start.year))


async def issue_global(
    session: AsyncSession, settings: Settings, gym: Gym, period: Period, now: datetime
) -> CfdiDocument | None:
    """Claim and sign the period's factura global; None when it exists or had no tickets."""
    profile = await lock_profile(session, gym.id)
    if profile is None or not profile.csd_certificate:
        return None
    key = f"global:{gym.id}:{period.key}"
    if await session.scalar(select(CfdiDocument.id).where(CfdiDocument.idempotency_key == key)):
        return None
    tickets = (
        await session.execute(
            select(Payment, Invoice.number)
            .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Payment.gym_id == gym.id,
                Payment.status == "approved",
                Payment.amount_cents > 0,
                Payment.applied_at >= period.start,
                Payment.applied_at < period.end,
                ~exists().where(CfdiDocument.payment_id == Payment.id),
                ~exists().where(CfdiGlobalItem.payment_id == Payment.id),
            )
            .order_by(Payment.applied_at, Payment.id)
        )
    ).all()
    if not tickets:
        return None
    lines: list[doc.Line] = []
    by_forma: defaultdict[str, int] = defaultdict(int)
    for payment, number in tickets:
        ticket = number or f"P-{payment.id}"
        lines.append(
            doc.Line(
                description="Venta",
                amount_cents=payment.amount_cents,
                product=doc.TICKET_PRODUCT,
                unit=doc.TICKET_UNIT,
                identification=ticket,
            )
        )
        by_forma[await forma_pago_of(session, payment)] += payment.amount_cents
    # One FormaPago per CFDI: SAT asks for the one that paid the largest amount.
    forma = max(sorted(by_forma), key=lambda f: by_forma[f])
    totals = doc.amounts(lines)
    fecha = local_time(gym, now)
    receiver = public_receiver(profile)
    new_id = await insert_claim(
        session,
        {
            "gym_id": gym.id,
            "member_id": None,
            "kind": "I",
            "scope": "global",
            "idempotency_key": key,
            "series": profile.global_series,
            "status": "pending",
            "simulated": profile.pac_provider == "simulated",
            "pac_provider": profile.pac_provider,
            "receptor_rfc": receiver.rfc,
            "receptor_name": receiver.name,
            "uso_cfdi": receiver.uso_cfdi,
            "forma_pago": forma,
            "subtotal_cents": totals.subtotal_cents,
            "tax_cents": totals.tax_cents,
            "total_cents": totals.total_cents,
            "global_periodicity": period.info.periodicity,
            "global_months": period.info.months,
            "global_year": period.info.year,
            "period_start": period.start,
            "period_end": period.end,
            "issued_at": fecha,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    if new_id is None:
        return None
    await session.execute(
        insert(CfdiGlobalItem),
        [
            {
                "gym_id": gym.id,
                "document_id": new_id,
                "payment_id": payment.id,
                "ticket": line.identification,
                "amount_cents": payment.amount_cents,
            }
            for (payment, _), line in zip(tickets, lines, strict=True)
        ],
    )
    draft = doc.Draft(
        kind="I",
        series=profile.global_series,
        folio=await take_folio(session, gym.id),
        issued_at=fecha,
        forma_pago=forma,
        issuer=issuer_of(profile),
        receiver=receiver,
        lines=lines,
        global_period=period.info,
    )
    return await finish_claim(session, settings, profile, new_id, draft, now)


async def global_of_payment(session: AsyncSession, payment_id: int) -> CfdiDocument | None:
    return await session.scalar(
        select(CfdiDocument)
        .join(CfdiGlobalItem, CfdiGlobalItem.document_id == CfdiDocument.id)
        .where(CfdiGlobalItem.payment_id == payment_id)
    )


def period_label(document: CfdiDocument, lang: str) -> str:
    months_es = (
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    )  # fmt: skip
    if document.global_months and document.global_year and document.global_months <= "12":
        month = int(document.global_months)
        if lang == "en":
            return f"{datetime(2000, month, 1).strftime('%B')} {document.global_year}"
        return f"{months_es[month - 1]} {document.global_year}"
    return str(document.global_year or "")


def local_date(gym: Gym, at: datetime) -> str:
    return local_time(gym, at).date().isoformat()
