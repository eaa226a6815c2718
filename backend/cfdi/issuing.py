"""Numbering and signing CFDIs for payments (Ingreso) and refunds (Egreso), exactly once.

A CFDI is claimed by inserting its row under a unique key ("ingreso:payment:42"), with
the gym's fiscal profile row locked: a second claim (another worker, a re-run sweep, the
monthly factura global) sees the first one and does nothing. Stamping is a separate step
(backend.cfdi.stamping) so a slow PAC never holds the claim's locks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import InvoiceLine
from backend.cfdi import document as doc
from backend.cfdi.catalogs import (
    PUBLIC_NAME,
    PUBLIC_REGIMEN,
    PUBLIC_RFC,
    PUBLIC_USO,
    USO_REGIMENES,
    forma_pago,
)
from backend.cfdi.models import CfdiDocument, CfdiGlobalItem, GymFiscalProfile, MemberFiscalProfile
from backend.cfdi.profile import signer_of, take_folio
from backend.gyms.models import Gym
from backend.jobs import enqueue_after_commit
from backend.members.service import audit
from backend.payments.models import Payment, PaymentMethod
from backend.settings import Settings

log = logging.getLogger(__name__)

STAMP_JOB = "stamp_cfdi"
# SAT stamps a CFDI only within 72 hours of its Fecha; older payments get today's date.
FECHA_MAX_AGE = timedelta(hours=48)


def ingreso_key(payment_id: int) -> str:
    return f"ingreso:payment:{payment_id}"


def egreso_key(payment_id: int) -> str:
    return f"egreso:payment:{payment_id}"


async def lock_profile(session: AsyncSession, gym_id: int) -> GymFiscalProfile | None:
    """The gym's fiscal profile, locked: claims and the factura global take turns."""
    query = select(GymFiscalProfile).where(GymFiscalProfile.gym_id == gym_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query)


async def insert_claim(session: AsyncSession, values: dict[str, object]) -> int | None:
    """Insert the document row unless its key exists; its id, or None when it existed."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(CfdiDocument)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(CfdiDocument.id)
    )
    return await session.scalar(stmt)


def local_time(gym: Gym, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(gym.timezone))


def cfdi_fecha(gym: Gym, paid_at: datetime | None, now: datetime) -> datetime:
    """The payment's date when SAT still accepts it (72 h rule), else now; local time."""
    when = paid_at if paid_at is not None and now - paid_at <= FECHA_MAX_AGE else now
    return local_time(gym, when)


def month_start(gym: Gym, now: datetime) -> datetime:
    local = local_time(gym, now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def issuer_of(profile: GymFiscalProfile) -> doc.Party:
    return doc.Party(profile.rfc, profile.legal_name, profile.regimen, profile.postal_code)


def receiver_of(member: MemberFiscalProfile, uso: str | None = None) -> doc.Party:
    return doc.Party(
        member.rfc, member.legal_name, member.regimen, member.postal_code, uso or member.uso_cfdi
    )


def public_receiver(profile: GymFiscalProfile) -> doc.Party:
    return doc.Party(PUBLIC_RFC, PUBLIC_NAME, PUBLIC_REGIMEN, profile.postal_code, PUBLIC_USO)


async def payment_lines(session: AsyncSession, payment: Payment, gym: Gym) -> list[doc.Line]:
    """The payment's concepts: its invoice's lines, with discount lines and balance credit
    spread over them, so the concepts add up to the amount paid to the centavo."""
    target = payment.amount_cents
    rows: Sequence[InvoiceLine] = []
    if payment.invoice_id is not None:
        rows = (
            await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == payment.invoice_id)
                .order_by(InvoiceLine.id)
            )
        ).all()
    positives = [r for r in rows if r.amount_cents > 0]
    gross = sum(r.amount_cents for r in positives)
    if not positives or gross < target:
        label = f"Membresía {gym.name}"
        return [doc.Line(description=label, amount_cents=target)]
    discount = gross - target
    shares = [discount * r.amount_cents // gross for r in positives]
    # Largest remainder: the centavos left go to the lines with the largest fractions.
    left = discount - sum(shares)
    order = sorted(
        range(len(positives)), key=lambda i: -(discount * positives[i].amount_cents % gross)
    )
    for i in order[:left]:
        shares[i] += 1
    lines = []
    for row, share in zip(positives, shares, strict=True):
        if share >= row.amount_cents:  # a line wholly discounted: leave it out
            continue
        label = row.description if row.quantity == 1 else f"{row.description} x{row.quantity}"
        lines.append(
            doc.Line(description=label, amount_cents=row.amount_cents, discount_cents=share)
        )
    if sum(line.amount_cents - line.discount_cents for line in lines) != target:
        return [doc.Line(description=f"Membresía {gym.name}", amount_cents=target)]
    return lines


async def forma_pago_of(session: AsyncSession, payment: Payment) -> str:
    card_type = None
    if payment.method == "card" and payment.payment_method_id is not None:
        method = await session.get(PaymentMethod, payment.payment_method_id)
        # Mercado Pago names debit cards "debvisa", "debmaster", …
        if method is not None and method.brand.lower().startswith("deb"):
            card_type = "debit"
    return forma_pago(payment.method, card_type)


def in_global(payment_id: Any) -> Exists:
    return exists().where(CfdiGlobalItem.payment_id == payment_id)


async def eligible_payment_ids(
    session: AsyncSession, now: datetime, *, gym: Gym | None = None, member_id: int | None = None
) -> list[int]:
    """Approved payments of members with fiscal data and no CFDI yet: those of this month
    (gym time) or made after the member gave their data. Tickets already in a factura
    global are left out (see `nominative_request`)."""
    query = (
        select(Payment.id, Payment.applied_at, Gym)
        .join(Gym, Gym.id == Payment.gym_id)
        .join(
            MemberFiscalProfile,
            and_(
                MemberFiscalProfile.gym_id == Payment.gym_id,
                MemberFiscalProfile.member_id == Payment.member_id,
            ),
        )
        .join(GymFiscalProfile, GymFiscalProfile.gym_id == Payment.gym_id)
        .where(
            Payment.status == "approved",
            Payment.applied_at.is_not(None),
            Payment.amount_cents > 0,
            GymFiscalProfile.csd_certificate.is_not(None),
            ~exists().where(CfdiDocument.payment_id == Payment.id, CfdiDocument.kind == "I"),
            ~in_global(Payment.id),
            Payment.applied_at >= now - timedelta(days=62),
        )
        .add_columns(MemberFiscalProfile.created_at)
    )
    if gym is not None:
        query = query.where(Payment.gym_id == gym.id)
    if member_id is not None:
        query = query.where(Payment.member_id == member_id)
    found = []
    for payment_id, applied_at, payment_gym, registered_at in (await session.execute(query)).all():
        if applied_at >= month_start(payment_gym, now) or applied_at >= registered_at:
            found.append(int(payment_id))
    return sorted(found)


async def claim_ingreso(
    session: AsyncSession, settings: Settings, payment_id: int, now: datetime
) -> CfdiDocument | None:
    """Number and sign the Ingreso of a payment; None when it has one (or can't have one)."""
    payment = await session.get(Payment, payment_id)
    if payment is None or payment.status != "approved" or payment.applied_at is None:
        return None
    profile = await lock_profile(session, payment.gym_id)
    if profile is None or not profile.csd_certificate:
        return None
    receiver = await session.scalar(
        select(MemberFiscalProfile).where(
            MemberFiscalProfile.gym_id == payment.gym_id,
            MemberFiscalProfile.member_id == payment.member_id,
        )
    )
    if receiver is None:
        return None
    if await session.scalar(select(in_global(payment.id))):
        return None
    gym = await session.get(Gym, payment.gym_id)
    assert gym is not None
    lines = await payment_lines(session, payment, gym)
    totals = doc.amounts(lines)
    fecha = cfdi_fecha(gym, payment.applied_at, now)
    forma = await forma_pago_of(session, payment)
    new_id = await insert_claim(
        session,
        {
            "gym_id": gym.id,
            "member_id": payment.member_id,
            "kind": "I",
            "scope": "nominative",
            "payment_id": payment.id,
            "idempotency_key": ingreso_key(payment.id),
            "series": profile.series,
            "status": "pending",
            "simulated": profile.pac_provider == "simulated",
            "pac_provider": profile.pac_provider,
            "receptor_rfc": receiver.rfc,
            "receptor_name": receiver.legal_name,
            "uso_cfdi": receiver.uso_cfdi,
            "forma_pago": forma,
            "subtotal_cents": totals.subtotal_cents,
            "discount_cents": totals.discount_cents,
            "tax_cents": totals.tax_cents,
            "total_cents": totals.total_cents,
            "issued_at": fecha,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    if new_id is None:
        return None
    draft = doc.Draft(
        kind="I",
        series=profile.series,
        folio=await take_folio(session, gym.id),
        issued_at=fecha,
        forma_pago=forma,
        issuer=issuer_of(profile),
        receiver=receiver_of(receiver),
        lines=lines,
    )
    return await finish_claim(session, settings, profile, new_id, draft, now)


async def finish_claim(
    session: AsyncSession,
    settings: Settings,
    profile: GymFiscalProfile,
    document_id: int,
    draft: doc.Draft,
    now: datetime,
) -> CfdiDocument:
    """Sign the draft into the claimed row and queue its stamping."""
    document = await session.get(CfdiDocument, document_id)
    assert document is not None
    document.folio = draft.folio
    try:
        signed = doc.build_and_sign(draft, signer_of(settings, profile))
        document.xml = doc.xml_of(signed).decode()
    except doc.CfdiRuleError as exc:
        document.status, document.last_error = "failed", str(exc)[:500]
        log.error("cfdi %s breaks a SAT rule: %s", document_id, exc)
    await session.flush()
    await audit(
        session,
        document.gym_id,
        "system",
        "cfdi.claimed",
        "cfdi",
        document.id,
        {"key": document.idempotency_key, "total_cents": document.total_cents},
    )
    if document.status == "pending":
        enqueue_after_commit(session, STAMP_JOB, document.id, job_id=f"cfdi:stamp:{document.id}")
    return document


async def credited_document(session: AsyncSession, payment: Payment) -> CfdiDocument | None:
    """The stamped CFDI that covers a payment: its own Ingreso, or the factura global."""
    own = await session.scalar(
        select(CfdiDocument).where(CfdiDocument.idempotency_key == ingreso_key(payment.id))
    )
    if own is not None:
        return own if own.status == "stamped" else None
    return await session.scalar(
        select(CfdiDocument)
        .join(CfdiGlobalItem, CfdiGlobalItem.document_id == CfdiDocument.id)
        .where(CfdiGlobalItem.payment_id == payment.id, CfdiDocument.status == "stamped")
    )


async def issue_credit_note(
    session: AsyncSession,
    settings: Settings,
    payment_id: int,
    now: datetime,
    *,
    amount_cents: int | None = None,
) -> CfdiDocument | None:
    """The Egreso (nota de crédito, TipoRelacion 01) for a refunded payment whose income
    was already invoiced; None when there is nothing to credit or it exists.

    For the payments engineer: call it in the refund's transaction (or let the sweep).
    """
    payment = await session.get(Payment, payment_id)
    if payment is None:
        return None
    profile = await lock_profile(session, payment.gym_id)
    if profile is None or not profile.csd_certificate:
        return None
    original = await credited_document(session, payment)
    if original is None or original.uuid is None:
        return None
    gym = await session.get(Gym, payment.gym_id)
    assert gym is not None
    amount = amount_cents or payment.amount_cents
    period = None
    if original.scope == "global":
        receiver = public_receiver(profile)
        assert original.global_periodicity and original.global_months and original.global_year
        period = doc.GlobalPeriod(
            original.global_periodicity, original.global_months, original.global_year
        )
    else:
        fiscal = await session.scalar(
            select(MemberFiscalProfile).where(
                MemberFiscalProfile.gym_id == gym.id,
                MemberFiscalProfile.member_id == payment.member_id,
            )
        )
        base = doc.Party(
            original.receptor_rfc,
            original.receptor_name,
            fiscal.regimen if fiscal else "616",
            fiscal.postal_code if fiscal else profile.postal_code,
        )
        # G02 "Devoluciones, descuentos o bonificaciones" where the régimen admits it.
        uso = "G02" if base.regimen in USO_REGIMENES["G02"] else "S01"
        receiver = doc.Party(base.rfc, base.name, base.regimen, base.postal_code, uso)
    line = doc.Line(
        description=f"Devolución del pago de {doc._pesos(amount)} (CFDI {original.uuid})",
        amount_cents=amount,
        product=doc.CREDIT_NOTE_PRODUCT,
        unit="ACT",
    )
    totals = doc.amounts([line])
    fecha = local_time(gym, now)
    forma = await forma_pago_of(session, payment)
    new_id = await insert_claim(
        session,
        {
            "gym_id": gym.id,
            "member_id": payment.member_id,
            "kind": "E",
            "scope": original.scope,
            "payment_id": payment.id,
            "related_document_id": original.id,
            "idempotency_key": egreso_key(payment.id),
            "series": profile.credit_note_series,
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
            "global_periodicity": period.periodicity if period else None,
            "global_months": period.months if period else None,
            "global_year": period.year if period else None,
            "issued_at": fecha,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    if new_id is None:
        return None
    draft = doc.Draft(
        kind="E",
        series=profile.credit_note_series,
        folio=await take_folio(session, gym.id),
        issued_at=fecha,
        forma_pago=forma,
        issuer=issuer_of(profile),
        receiver=receiver,
        lines=[line],
        global_period=period,
        related_type="01",
        related_uuids=(original.uuid,),
    )
    return await finish_claim(session, settings, profile, new_id, draft, now)


async def refunded_without_credit_note(session: AsyncSession, now: datetime) -> list[int]:
    """Refunded payments whose income was invoiced (own CFDI or a global) and that have
    no Egreso yet."""
    stamped_own = exists().where(
        CfdiDocument.payment_id == Payment.id,
        CfdiDocument.kind == "I",
        CfdiDocument.status == "stamped",
    )
    stamped_global = exists().where(
        CfdiGlobalItem.payment_id == Payment.id,
        CfdiGlobalItem.document_id == CfdiDocument.id,
        CfdiDocument.status == "stamped",
    )
    has_egreso = exists().where(CfdiDocument.payment_id == Payment.id, CfdiDocument.kind == "E")
    rows = await session.scalars(
        select(Payment.id).where(
            Payment.status == "refunded",
            Payment.updated_at >= now - timedelta(days=365),
            or_(stamped_own, stamped_global),
            ~has_egreso,
        )
    )
    return sorted(rows.all())
