"""Asking a member to pay: their statement, and a Checkout Pro link, an OXXO voucher or a
SPEI transfer for their open invoices (one request reused while it is alive), or a charge
to their saved card.

References are deterministic (`gg:<gym>:<kind>:<first invoice>:<n>`, also the idempotency
key): if our transaction is lost after the provider created the voucher, the retry gets
the same voucher back instead of a second one that could be paid as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.invoices import lock_invoice
from backend.billing.models import Invoice, Plan, Subscription
from backend.billing.service import current_holding, open_invoices
from backend.errors import Conflict, DomainError
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import record_event
from backend.payments.models import Payment, PaymentMethod, PaymentRequest, payment_request_invoices
from backend.payments.provider import (
    CheckoutRequest,
    OfflinePaymentRequest,
    PaymentProvider,
    ProviderRejected,
    ProviderUnavailable,
)
from backend.payments.service import charge_invoice, default_method

# A live link or voucher is reused only if it has at least this long left.
REUSE_MARGIN = timedelta(minutes=30)
# OXXO vouchers, SPEI transfers and links last until the end of this many days (gym time).
VALID_DAYS = 3
SCOPES = ("all", "oldest")


class PaymentUnavailable(DomainError):
    """The provider could not be reached: nothing was created, try again later."""

    status_code = 503
    code = "payment_provider_unavailable"


@dataclass(frozen=True)
class Statement:
    plan_name: str | None
    status: str | None
    period_end: datetime | None
    # The next automatic charge (None when nothing renews).
    next_charge_at: datetime | None
    next_charge_cents: int
    cancel_at_period_end: bool
    class_credits: int | None  # None: unlimited (or no plan)
    invoices: Sequence[Invoice]
    balance_credit_cents: int
    saved_card: PaymentMethod | None

    @property
    def owed_cents(self) -> int:
        return sum(i.amount_due_cents for i in self.invoices)


async def statement(session: AsyncSession, gym: Gym, member: Member) -> Statement:
    """Everything "¿cuánto debo?" answers: plan, status, next charge, open invoices, balance
    credit, class credits and the saved card."""
    holding = await current_holding(session, member.id)
    invoices = [i for i in await open_invoices(session, member.id) if i.amount_due_cents > 0]
    balance = await credits.balance(session, gym.id, member.id)
    card = await default_method(session, gym.id, member.id)
    if holding is None:
        return Statement(None, None, None, None, 0, False, None, invoices, balance, card)
    sub, plan = holding.subscription, holding.plan
    renews = sub.status in ("trialing", "active", "past_due") and not sub.cancel_at_period_end
    next_plan: Plan | None = plan
    if renews and sub.pending_plan_id:
        next_plan = await session.get(Plan, sub.pending_plan_id)
    next_cents = next_plan.price_at(sub.current_period_end) if renews and next_plan else 0
    return Statement(
        plan_name=plan.name,
        status=sub.status,
        period_end=sub.current_period_end,
        next_charge_at=sub.current_period_end if renews else None,
        next_charge_cents=next_cents,
        cancel_at_period_end=sub.cancel_at_period_end,
        class_credits=sub.class_credits_remaining,
        invoices=invoices,
        balance_credit_cents=balance,
        saved_card=card,
    )


def in_scope(invoices: Sequence[Invoice], scope: str) -> list[Invoice]:
    """The invoices a payment covers: all open ones, or only the oldest."""
    ordered = sorted(invoices, key=lambda i: (i.due_at, i.id))
    return ordered[:1] if scope == "oldest" else ordered


def payer_email(gym: Gym, member: Member) -> str:
    """Mercado Pago requires a payer email for OXXO/SPEI; members give us a phone only, so
    we use an address on our domain derived from it (receipts reach them on WhatsApp)."""
    return f"{member.phone.lstrip('+')}@{gym.slug}.socios.gogym.mx"


def _expiry(gym: Gym, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(gym.timezone)).date() + timedelta(days=VALID_DAYS - 1)
    return datetime.combine(local, time(23, 59, 59), ZoneInfo(gym.timezone))


async def request_invoices(session: AsyncSession, request_id: int) -> list[Invoice]:
    rows = await session.scalars(
        select(Invoice)
        .join(payment_request_invoices, payment_request_invoices.c.invoice_id == Invoice.id)
        .where(payment_request_invoices.c.payment_request_id == request_id)
        .order_by(Invoice.id)
    )
    return list(rows.all())


async def _live_request(
    session: AsyncSession, member: Member, kind: str, invoices: Sequence[Invoice], now: datetime
) -> PaymentRequest | None:
    """A live request of this kind for exactly these invoices and amount; expired ones are
    marked so on the way (and cancelled at the provider by the caller)."""
    ids = sorted(i.id for i in invoices)
    amount = sum(i.amount_due_cents for i in invoices)
    candidates = await session.scalars(
        select(PaymentRequest)
        .join(
            payment_request_invoices,
            payment_request_invoices.c.payment_request_id == PaymentRequest.id,
        )
        .where(
            PaymentRequest.gym_id == member.gym_id,
            PaymentRequest.member_id == member.id,
            PaymentRequest.kind == kind,
            PaymentRequest.status == "live",
            payment_request_invoices.c.invoice_id == ids[0],
        )
        .order_by(PaymentRequest.id.desc())
    )
    for req in candidates.all():
        covered = sorted(i.id for i in await request_invoices(session, req.id))
        alive = req.expires_at is None or req.expires_at > now + REUSE_MARGIN
        if covered == ids and req.amount_cents == amount and alive:
            return req
    return None


async def _expired_requests(
    session: AsyncSession, member: Member, kind: str, invoice_id: int, now: datetime
) -> list[PaymentRequest]:
    rows = await session.scalars(
        select(PaymentRequest)
        .join(
            payment_request_invoices,
            payment_request_invoices.c.payment_request_id == PaymentRequest.id,
        )
        .where(
            PaymentRequest.gym_id == member.gym_id,
            PaymentRequest.member_id == member.id,
            PaymentRequest.kind == kind,
            PaymentRequest.status == "live",
            payment_request_invoices.c.invoice_id == invoice_id,
        )
    )
    return [
        r for r in rows.all() if r.expires_at is not None and r.expires_at <= now + REUSE_MARGIN
    ]


async def _next_reference(session: AsyncSession, gym_id: int, kind: str, first_id: int) -> str:
    prefix = f"gg:{gym_id}:{kind}:{first_id}:"
    used = await session.scalar(
        select(func.count())
        .select_from(PaymentRequest)
        .where(PaymentRequest.external_reference.like(prefix + "%"))
    )
    return f"{prefix}{int(used or 0) + 1}"


def _describe(invoices: Sequence[Invoice]) -> str:
    numbers = ", ".join(i.number for i in invoices)
    return f"Recibo{'s' if len(invoices) > 1 else ''} {numbers}"[:250]


async def _store_request(
    session: AsyncSession,
    member: Member,
    kind: str,
    provider: str,
    external_reference: str,
    invoices: Sequence[Invoice],
    now: datetime,
    **values: object,
) -> PaymentRequest:
    req = PaymentRequest(
        gym_id=member.gym_id,
        member_id=member.id,
        kind=kind,
        amount_cents=sum(i.amount_due_cents for i in invoices),
        provider=provider,
        external_reference=external_reference,
        idempotency_key=external_reference,
        status="live",
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(req)
    await session.flush()
    await session.execute(
        insert(payment_request_invoices),
        [{"payment_request_id": req.id, "invoice_id": i.id} for i in invoices],
    )
    return req


def _check_payable(invoices: Sequence[Invoice]) -> None:
    if not invoices or any(i.status != "open" or i.amount_due_cents <= 0 for i in invoices):
        raise Conflict("No hay nada pendiente por pagar.", "There is nothing open to pay.")


async def checkout_link(
    session: AsyncSession,
    provider: PaymentProvider,
    gym: Gym,
    member: Member,
    invoices: Sequence[Invoice],
    now: datetime,
) -> PaymentRequest:
    """A Checkout Pro link for these invoices; the live one when there is one."""
    _check_payable(invoices)
    live = await _live_request(session, member, "checkout", invoices, now)
    if live is not None:
        return live
    for old in await _expired_requests(session, member, "checkout", invoices[0].id, now):
        old.status, old.updated_at = "expired", now
    reference = await _next_reference(session, gym.id, "link", invoices[0].id)
    try:
        link = await provider.create_checkout_link(
            CheckoutRequest(
                gym_id=gym.id,
                amount_cents=sum(i.amount_due_cents for i in invoices),
                title=f"{gym.name} · {_describe(invoices)}",
                external_reference=reference,
                idempotency_key=reference,
                expires_at=_expiry(gym, now),
            )
        )
    except (ProviderUnavailable, ProviderRejected) as exc:
        raise _unavailable() from exc
    return await _store_request(
        session,
        member,
        "checkout",
        provider.name,
        reference,
        invoices,
        now,
        provider_ref=link.preference_id,
        url=link.url,
        expires_at=link.expires_at,
    )


async def offline_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    gym: Gym,
    member: Member,
    invoices: Sequence[Invoice],
    kind: str,
    now: datetime,
) -> PaymentRequest:
    """An OXXO voucher (`kind="oxxo"`) or a SPEI transfer (`kind="spei"`) for these
    invoices. A live one is reused; an expired one is replaced and cancelled at the
    provider, so it can never be paid and applied alongside the new one."""
    _check_payable(invoices)
    live = await _live_request(session, member, kind, invoices, now)
    if live is not None:
        return live
    for old in await _expired_requests(session, member, kind, invoices[0].id, now):
        old.status, old.updated_at = "replaced", now
        # An expired voucher cannot be paid anyway; cancelling it is belt and braces.
        with contextlib.suppress(ProviderUnavailable, ProviderRejected):
            await provider.cancel_payment(gym.id, old.provider_ref)
    reference = await _next_reference(session, gym.id, kind, invoices[0].id)
    request = OfflinePaymentRequest(
        gym_id=gym.id,
        amount_cents=sum(i.amount_due_cents for i in invoices),
        description=f"{gym.name} · {_describe(invoices)}",
        external_reference=reference,
        idempotency_key=reference,
        expires_at=_expiry(gym, now),
        payer_email=payer_email(gym, member),
        payer_first_name=(member.name or "").split(" ")[0],
        payer_last_name=" ".join((member.name or "").split(" ")[1:]),
    )
    try:
        if kind == "oxxo":
            made = await provider.create_cash_payment(request)
        else:
            made = await provider.create_bank_transfer(request)
    except (ProviderUnavailable, ProviderRejected) as exc:
        raise _unavailable() from exc
    req = await _store_request(
        session,
        member,
        kind,
        provider.name,
        reference,
        invoices,
        now,
        provider_ref=made.provider_payment_id,
        url=made.ticket_url,
        reference=made.reference[:80],
        clabe=made.clabe[:18],
        bank=made.bank[:60],
        expires_at=made.expires_at,
    )
    existing = await session.scalar(
        select(Payment.id).where(
            Payment.provider == provider.name,
            Payment.provider_payment_id == made.provider_payment_id,
        )
    )
    if existing is None:
        session.add(
            Payment(
                gym_id=gym.id,
                member_id=member.id,
                invoice_id=invoices[0].id,
                amount_cents=req.amount_cents,
                method=kind,
                provider=provider.name,
                provider_payment_id=made.provider_payment_id,
                idempotency_key=reference,
                status="pending",
                status_detail="pending_waiting_payment",
                payment_request_id=req.id,
                external_reference=reference,
                created_at=now,
                updated_at=now,
            )
        )
    await record_event(
        session,
        gym.id,
        member.id,
        f"payment_{kind}_requested",
        {"invoice_ids": [i.id for i in invoices], "amount_cents": req.amount_cents},
        now,
    )
    await session.flush()
    return req


async def charge_saved_card(
    session: AsyncSession,
    provider: PaymentProvider,
    gym: Gym,
    member: Member,
    invoices: Sequence[Invoice],
    now: datetime,
) -> list[Payment]:
    """Charge the member's default card for each invoice (they confirmed in the chat).
    Stops at the first decline: the rest would be declined too."""
    _check_payable(invoices)
    payments: list[Payment] = []
    for inv in invoices:
        locked = await lock_invoice(session, gym.id, inv.id)
        if locked is None or locked.status != "open":
            continue
        try:
            payment = await charge_invoice(
                session, provider, locked, actor=f"member:{member.id}", now=now
            )
        except (ProviderUnavailable, ProviderRejected) as exc:
            raise _unavailable() from exc
        if payment is None:
            break
        await session.flush()  # the next invoice's settle must see this one paid
        payments.append(payment)
        if payment.status != "approved":
            break
    return payments


def _unavailable() -> PaymentUnavailable:
    return PaymentUnavailable(
        "No pudimos conectar con Mercado Pago; inténtalo en unos minutos.",
        "We could not reach Mercado Pago; please try again in a few minutes.",
    )


async def subscription_of(session: AsyncSession, invoice: Invoice) -> Subscription | None:
    if invoice.subscription_id is None:
        return None
    return await session.get(Subscription, invoice.subscription_id)
