"""Refunds staff ask for through the API: full or partial, at the provider with our own
idempotency key, then the same invoice and access consequences a provider-side refund has
(see `backend.payments.apply.refund_effects`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.payments.apply import refund_effects
from backend.payments.checkout import PaymentUnavailable
from backend.payments.models import Payment, PaymentRequest, payment_request_invoices
from backend.payments.provider import (
    PaymentProvider,
    ProviderRejected,
    ProviderUnavailable,
    RefundRequest,
)

# Money taken without a provider (cash at the desk): refunded by hand, recorded here.
LOCAL_PROVIDERS = frozenset({"front_desk"})


async def refund_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    gym_id: int,
    payment_id: int,
    amount_cents: int | None,
    *,
    actor: str,
    now: datetime,
) -> Payment:
    """Give back `amount_cents` (None: all that is left) of an applied payment."""
    peek = await session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.gym_id == gym_id)
    )
    if peek is None:
        raise NotFound("Ese pago no existe.", "No such payment.")
    lock = session.get_bind().dialect.name == "postgresql"
    # Same lock order as applying a notification: request, invoices, then the payment.
    if peek.payment_request_id is not None:
        q = select(PaymentRequest).where(PaymentRequest.id == peek.payment_request_id)
        await session.scalar(q.with_for_update() if lock else q)
        inv_q = (
            select(Invoice)
            .join(payment_request_invoices, payment_request_invoices.c.invoice_id == Invoice.id)
            .where(payment_request_invoices.c.payment_request_id == peek.payment_request_id)
            .order_by(Invoice.id)
        )
    else:
        inv_q = select(Invoice).where(Invoice.id == peek.invoice_id)
    invoices = list((await session.scalars(inv_q.with_for_update() if lock else inv_q)).all())
    pay_q = select(Payment).where(Payment.id == payment_id)
    row = await session.scalar(pay_q.with_for_update() if lock else pay_q)
    assert row is not None
    if row.status != "approved" or row.applied_at is None:
        raise Conflict(
            "Solo se reembolsa un pago aprobado y aplicado.",
            "Only an approved, applied payment can be refunded.",
            {"status": row.status},
        )
    left = row.amount_cents - row.refunded_cents
    amount = left if amount_cents is None else amount_cents
    if amount <= 0 or amount > left:
        raise InvalidInput(
            f"El monto debe estar entre $0.01 y ${left / 100:,.2f}.",
            f"The amount must be between $0.01 and ${left / 100:,.2f}.",
            {"refundable_cents": left},
        )
    if row.provider not in LOCAL_PROVIDERS:
        if row.provider != provider.name or not row.provider_payment_id:
            raise Conflict(
                "Ese pago no se hizo con el proveedor configurado.",
                "That payment was not made with the configured provider.",
            )
        whole = amount == left and row.refunded_cents == 0
        try:
            await provider.refund(
                RefundRequest(
                    gym_id=gym_id,
                    provider_payment_id=row.provider_payment_id,
                    amount_cents=None if whole else amount,
                    idempotency_key=f"refund:{row.id}:{row.refunded_cents}:{amount}",
                )
            )
        except ProviderUnavailable as exc:
            raise PaymentUnavailable(
                "No pudimos conectar con Mercado Pago; el reembolso no se hizo.",
                "We could not reach Mercado Pago; nothing was refunded.",
            ) from exc
        except ProviderRejected as exc:
            raise Conflict(
                f"Mercado Pago rechazó el reembolso: {exc.message}",
                f"Mercado Pago refused the refund: {exc.message}",
            ) from exc
    row.refunded_cents += amount
    row.updated_at = now
    gym = await session.get(Gym, row.gym_id)
    member = await session.get(Member, row.member_id)
    assert gym is not None and member is not None
    await refund_effects(
        session,
        gym,
        member,
        row,
        invoices,
        amount,
        full=row.refunded_cents == row.amount_cents,
        actor=actor,
        now=now,
    )
    return row
