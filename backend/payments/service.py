"""Charging invoices, recording payments, and saved payment methods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.invoices import lock_invoice, settle
from backend.billing.models import Invoice
from backend.errors import Conflict, InvalidInput, NotFound
from backend.members.service import audit, record_event
from backend.payments.models import Payment, PaymentMethod
from backend.payments.provider import ChargeRequest, ChargeResult, PaymentProvider


async def default_method(
    session: AsyncSession, gym_id: int, member_id: int
) -> PaymentMethod | None:
    return await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.member_id == member_id,
            PaymentMethod.is_default.is_(True),
            PaymentMethod.deleted_at.is_(None),
        )
    )


async def default_methods(
    session: AsyncSession, gym_id: int, member_ids: Sequence[int]
) -> dict[int, PaymentMethod]:
    if not member_ids:
        return {}
    rows = await session.scalars(
        select(PaymentMethod).where(
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.member_id.in_(member_ids),
            PaymentMethod.is_default.is_(True),
            PaymentMethod.deleted_at.is_(None),
        )
    )
    return {m.member_id: m for m in rows.all()}


def charge_key(invoice_id: int, attempt: int) -> str:
    """One key per invoice and attempt: a retried request is the same charge, a dunning
    retry on another day is a new one."""
    return f"charge:invoice:{invoice_id}:{attempt}"


@dataclass(frozen=True)
class Billable:
    """What a charge needs to know about an invoice (ORM row or bulk-issued)."""

    id: int
    gym_id: int
    member_id: int
    number: str
    amount_due_cents: int

    @classmethod
    def of(cls, invoice: Invoice) -> Billable:
        return cls(
            invoice.id, invoice.gym_id, invoice.member_id, invoice.number, invoice.amount_due_cents
        )


def payment_row(
    invoice: Billable,
    method: PaymentMethod,
    result: ChargeResult,
    key: str,
    provider: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "gym_id": invoice.gym_id,
        "member_id": invoice.member_id,
        "invoice_id": invoice.id,
        "amount_cents": invoice.amount_due_cents,
        "method": "card",
        "provider": provider,
        "provider_payment_id": result.provider_payment_id,
        "idempotency_key": key,
        "status": result.status,
        "status_detail": result.status_detail[:80],
        "payment_method_id": method.id,
        "created_at": now,
        "updated_at": now,
        "applied_at": now if result.status == "approved" else None,
        "external_reference": f"invoice:{invoice.id}",
    }


def charge_request(invoice: Billable, method: PaymentMethod, key: str) -> ChargeRequest:
    return ChargeRequest(
        amount_cents=invoice.amount_due_cents,
        customer_id=method.provider_customer_id,
        card_id=method.provider_card_id,
        description=f"Recibo {invoice.number}",
        idempotency_key=key,
        external_reference=f"invoice:{invoice.id}",
        gym_id=invoice.gym_id,
        brand=method.brand,
    )


async def charge_invoice(
    session: AsyncSession,
    provider: PaymentProvider,
    invoice: Invoice,
    *,
    actor: str,
    now: datetime,
    method: PaymentMethod | None = None,
) -> Payment | None:
    """Charge the member's saved card for an open invoice; None when there is no card.

    The key is derived from the invoice and attempt number, so if this transaction is
    lost after the provider charged, the retry gets the same payment back, not a new one.
    """
    if invoice.status != "open" or invoice.amount_due_cents <= 0:
        return None
    method = method or await default_method(session, invoice.gym_id, invoice.member_id)
    if method is None:
        return None
    attempt = invoice.charge_attempts
    key = charge_key(invoice.id, attempt)
    bill = Billable.of(invoice)
    result = await provider.charge_saved_card(charge_request(bill, method, key))
    invoice.charge_attempts, invoice.last_charge_attempt_at = attempt + 1, now
    payment = Payment(**payment_row(bill, method, result, key, provider.name, now))
    session.add(payment)
    await session.flush()
    await record_event(
        session,
        invoice.gym_id,
        invoice.member_id,
        f"payment_{result.status}",
        {"invoice_id": invoice.id, "amount_cents": payment.amount_cents, "method": "card"},
        now,
    )
    if result.status == "approved":
        await settle(session, invoice, actor=actor, now=now, payment_id=payment.id)
    return payment


async def record_cash_payment(
    session: AsyncSession,
    gym_id: int,
    invoice_id: int,
    amount_cents: int,
    *,
    actor: str,
    now: datetime,
    reference: str,
) -> Payment:
    """Cash at the front desk: the exact amount due settles the invoice, once."""
    invoice = await lock_invoice(session, gym_id, invoice_id)
    if invoice is None:
        raise NotFound("Ese recibo no existe.", "That invoice does not exist.")
    if invoice.status != "open":
        raise Conflict(
            f"El recibo {invoice.number} no está pendiente ({invoice.status}).",
            f"Invoice {invoice.number} is not open ({invoice.status}).",
        )
    if amount_cents != invoice.amount_due_cents:
        raise InvalidInput(
            f"El monto debe ser exactamente ${invoice.amount_due_cents / 100:,.2f}.",
            f"The amount must be exactly ${invoice.amount_due_cents / 100:,.2f}.",
            {"amount_due_cents": invoice.amount_due_cents},
        )
    payment = Payment(
        gym_id=gym_id,
        member_id=invoice.member_id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        method="cash",
        provider="front_desk",
        provider_payment_id=None,
        idempotency_key=f"cash:{invoice.id}",
        status="approved",
        status_detail=reference[:80],
        created_at=now,
        updated_at=now,
        applied_at=now,
    )
    session.add(payment)
    await session.flush()
    await record_event(
        session,
        gym_id,
        invoice.member_id,
        "payment_approved",
        {"invoice_id": invoice.id, "amount_cents": amount_cents, "method": "cash"},
        now,
    )
    await settle(session, invoice, actor=actor, now=now, payment_id=payment.id)
    return payment


async def add_method(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int,
    provider: str,
    customer_id: str,
    card_id: str,
    brand: str,
    last4: str,
    exp_month: int | None,
    exp_year: int | None,
    fingerprint: str | None,
    make_default: bool,
    actor: str,
    now: datetime,
) -> PaymentMethod:
    has_default = await default_method(session, gym_id, member_id) is not None
    method = PaymentMethod(
        gym_id=gym_id,
        member_id=member_id,
        provider=provider,
        provider_customer_id=customer_id,
        provider_card_id=card_id,
        brand=brand,
        last4=last4,
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=fingerprint,
        is_default=False,
        created_at=now,
    )
    session.add(method)
    await session.flush()
    if make_default or not has_default:
        await set_default(session, method, actor=actor)
    await audit(
        session,
        gym_id,
        actor,
        "payment_method.added",
        "payment_method",
        method.id,
        {"brand": brand, "last4": last4},
    )
    return method


async def set_default(session: AsyncSession, method: PaymentMethod, *, actor: str) -> None:
    if method.deleted_at is not None:
        raise Conflict("Esa tarjeta fue eliminada.", "That card was removed.")
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.gym_id == method.gym_id, PaymentMethod.member_id == method.member_id)
        .values(is_default=False)
    )
    method.is_default = True
    await session.flush()
    await audit(
        session, method.gym_id, actor, "payment_method.default", "payment_method", method.id, {}
    )


async def remove_method(
    session: AsyncSession, method: PaymentMethod, *, actor: str, now: datetime
) -> None:
    """Soft delete (payments keep pointing at it); the newest other card becomes default."""
    if method.deleted_at is not None:
        return
    method.deleted_at, was_default, method.is_default = now, method.is_default, False
    await session.flush()
    if was_default:
        other = await session.scalar(
            select(PaymentMethod)
            .where(
                PaymentMethod.gym_id == method.gym_id,
                PaymentMethod.member_id == method.member_id,
                PaymentMethod.deleted_at.is_(None),
            )
            .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
            .limit(1)
        )
        if other is not None:
            other.is_default = True
    await audit(
        session, method.gym_id, actor, "payment_method.removed", "payment_method", method.id, {}
    )
