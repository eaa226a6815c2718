"""Applying what the provider says about a payment to our books, exactly once.

Called with the provider's own lookup of a payment (never a webhook body). The rows it
touches are locked in one order — the payment request, then its invoices by id — so ten
deliveries of the same payment, concurrent or not, run one after another, and each acts
only on a status *change* recorded on our `payments` row: approved settles once, refunded
and charged_back undo once. Anything that does not add up is held for staff, not applied.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.invoices import settle
from backend.billing.models import Invoice, Subscription
from backend.billing.policy import policy_of
from backend.billing.transitions import ALLOWED, transition
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.notify import notify_member
from backend.payments import messages
from backend.payments.alerts import raise_alert
from backend.payments.models import Payment, PaymentRequest, payment_request_invoices
from backend.payments.provider import (
    PaymentProvider,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
)
from backend.referrals import rewards as referral_rewards

log = logging.getLogger(__name__)

PENDING = frozenset({"pending", "in_process", "authorized", "in_mediation"})
# How far along a payment is: a lookup answering an earlier stage than we recorded is
# stale (two deliveries looked it up at different moments) and is not applied backwards.
STAGE = {"approved": 1, "rejected": 1, "cancelled": 1, "refunded": 2, "charged_back": 2}
GymCheck = Callable[[int], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    status: str  # applied | noted | held | rejected
    detail: str
    gym_id: int | None = None


@dataclass
class Target:
    gym_id: int
    member_id: int
    invoices: list[Invoice]
    request: PaymentRequest | None


def _locking(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def method_of(payment: ProviderPayment) -> str:
    if payment.payment_type in ("credit_card", "debit_card", "prepaid_card"):
        return "card"
    if payment.payment_type == "ticket" or payment.payment_method == "oxxo":
        return "oxxo"
    if payment.payment_type == "bank_transfer" or payment.payment_method == "clabe":
        return "spei"
    return "wallet"


async def _resolve(session: AsyncSession, reference: str) -> Target | None:
    """The invoices a payment's `external_reference` points at, locked (request first)."""
    lock = _locking(session)
    if reference.startswith("gg:"):
        query = select(PaymentRequest).where(PaymentRequest.external_reference == reference)
        req = await session.scalar(query.with_for_update() if lock else query)
        if req is None:
            return None
        inv_query = (
            select(Invoice)
            .join(payment_request_invoices, payment_request_invoices.c.invoice_id == Invoice.id)
            .where(payment_request_invoices.c.payment_request_id == req.id)
            .order_by(Invoice.id)
        )
        invoices = list(
            (await session.scalars(inv_query.with_for_update() if lock else inv_query)).all()
        )
        return Target(req.gym_id, req.member_id, invoices, req) if invoices else None
    if reference.startswith("invoice:"):
        try:
            invoice_id = int(reference.removeprefix("invoice:"))
        except ValueError:
            return None
        by_id = select(Invoice).where(Invoice.id == invoice_id)
        inv = await session.scalar(by_id.with_for_update() if lock else by_id)
        return Target(inv.gym_id, inv.member_id, [inv], None) if inv else None
    return None


async def apply_provider_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    found: ProviderPayment,
    *,
    now: datetime,
    account_gym_id: int | None = None,
    serves_gym: GymCheck | None = None,
    templates: dict[str, str] | None = None,
) -> Outcome:
    """Bring our books in line with the provider's view of one payment (idempotent)."""
    target = await _resolve(session, found.external_reference)
    if target is None:
        log.warning(
            "payment %s: unknown reference %r; not applied", found.id, found.external_reference
        )
        if account_gym_id is not None:
            await raise_alert(
                session,
                gym_id=account_gym_id,
                kind="unknown_reference",
                subject=found.id,
                message=f"Pago {found.id} con referencia desconocida {found.external_reference!r}",
                now=now,
                data={"amount_cents": found.amount_cents, "status": found.status},
            )
        return Outcome("rejected", f"unknown reference {found.external_reference!r}"[:200])
    if serves_gym is not None and not await serves_gym(target.gym_id):
        log.warning(
            "payment %s belongs to gym %s, not to the notifying account; rejected",
            found.id,
            target.gym_id,
        )
        if account_gym_id is not None:
            await raise_alert(
                session,
                gym_id=account_gym_id,
                kind="other_gym",
                subject=found.id,
                message=f"Pago {found.id} hace referencia a otro gimnasio",
                now=now,
            )
        return Outcome("rejected", "payment of another gym")

    row, old_status = await _payment_row(session, provider.name, found, target, now)
    if old_status is not None and STAGE.get(found.status, 0) < STAGE.get(old_status, 0):
        row.status = old_status  # keep what a fresher lookup recorded
        return Outcome("noted", f"stale lookup ({found.status} after {old_status})", target.gym_id)
    gym = await session.get(Gym, target.gym_id)
    member = await session.get(Member, target.member_id)
    assert gym is not None and member is not None
    ctx = _Context(
        session, provider, gym, member, target, row, old_status is not None, found, now,
        templates or {},
    )  # fmt: skip

    if found.status == "approved":
        outcome = await ctx.approve()
        if found.refunded_cents > row.refunded_cents:
            await ctx.partial_refund()
        return outcome
    if found.status in PENDING:
        if old_status != found.status:
            await record_event(
                session, gym.id, member.id, "payment_pending", _event_data(row, target), now
            )
        return Outcome("noted", found.status, gym.id)
    if found.status == "rejected":
        if old_status != "rejected":
            await ctx.declined()
        return Outcome("noted", "rejected", gym.id)
    if found.status == "cancelled":
        req = target.request
        if req is not None and req.provider_ref == found.id and req.status == "live":
            req.status, req.updated_at = "expired", now
        return Outcome("noted", "cancelled", gym.id)
    if found.status == "refunded":
        if old_status != "refunded":
            await ctx.full_refund()
        return Outcome("applied", "refunded", gym.id)
    if found.status == "charged_back":
        if old_status != "charged_back":
            await ctx.charged_back()
        return Outcome("applied", "charged_back", gym.id)
    return Outcome("noted", found.status or "unknown status", gym.id)


def _event_data(row: Payment, target: Target) -> dict[str, object]:
    return {
        "invoice_ids": [i.id for i in target.invoices],
        "amount_cents": row.amount_cents,
        "method": row.method,
        "payment_id": row.id,
    }


async def _payment_row(
    session: AsyncSession, provider: str, found: ProviderPayment, target: Target, now: datetime
) -> tuple[Payment, str | None]:
    """Our row for this provider payment (created on first sight); and its previous status."""
    query = select(Payment).where(
        Payment.provider == provider, Payment.provider_payment_id == found.id
    )
    if _locking(session):
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is not None:
        old = row.status
        row.status, row.status_detail, row.updated_at = found.status, found.status_detail[:80], now
        return row, old
    row = Payment(
        gym_id=target.gym_id,
        member_id=target.member_id,
        invoice_id=target.invoices[0].id,
        amount_cents=found.amount_cents,
        method=method_of(found),
        provider=provider,
        provider_payment_id=found.id,
        idempotency_key=f"{provider}:{found.id}"[:80],
        status=found.status,
        status_detail=found.status_detail[:80],
        payment_request_id=target.request.id if target.request else None,
        external_reference=found.external_reference[:64],
        refunded_cents=0,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Only possible without row locks (no invoice to lock); the other writer won.
        again = await session.scalar(query)
        assert again is not None
        return again, again.status
    return row, None


@dataclass
class _Context:
    session: AsyncSession
    provider: PaymentProvider
    gym: Gym
    member: Member
    target: Target
    row: Payment
    # The row existed before this lookup (our own charge or voucher): its amount is ours.
    existed: bool
    found: ProviderPayment
    now: datetime
    templates: dict[str, str]

    @property
    def actor(self) -> str:
        return f"{self.provider.name}:{self.found.id}"

    @property
    def expected_cents(self) -> int:
        if self.target.request is not None:
            return self.target.request.amount_cents
        if self.existed:
            return self.row.amount_cents  # our own card charge: what we asked for
        return sum(i.amount_due_cents for i in self.target.invoices)

    async def _hold(self, reason: str, message: str) -> Outcome:
        if self.row.held_reason is None:
            self.row.held_reason = reason
            await raise_alert(
                self.session,
                gym_id=self.gym.id,
                kind=reason,
                subject=self.found.id,
                message=message,
                now=self.now,
                payment_id=self.row.id,
                invoice_id=self.target.invoices[0].id,
                data={
                    "paid_cents": self.found.amount_cents,
                    "expected_cents": self.expected_cents,
                    "currency": self.found.currency,
                },
            )
            await audit(
                self.session,
                self.gym.id,
                self.actor,
                "payment.held",
                "payment",
                self.row.id,
                {"reason": reason},
            )
        return Outcome("held", reason, self.gym.id)

    async def approve(self) -> Outcome:
        row, found = self.row, self.found
        if row.applied_at is not None:
            return Outcome("noted", "already applied", self.gym.id)
        if row.held_reason is not None:
            return Outcome("held", row.held_reason, self.gym.id)
        if found.currency and found.currency != "MXN":
            return await self._hold("currency", f"Pago {found.id} en {found.currency}, no MXN")
        expected = self.expected_cents
        if found.amount_cents != expected:
            return await self._hold(
                "amount_mismatch",
                f"Pago {found.id} por {found.amount_cents / 100:.2f} no coincide con "
                f"{expected / 100:.2f} esperado",
            )
        invoices = self.target.invoices
        if any(i.status != "open" for i in invoices):
            return await self._hold(
                "already_paid",
                f"Pago {found.id} llegó para recibos ya pagados o cancelados: "
                + ", ".join(i.number for i in invoices),
            )
        reactivated = False
        for inv in invoices:
            sub = (
                await self.session.get(Subscription, inv.subscription_id)
                if inv.subscription_id
                else None
            )
            was = sub.status if sub else None
            await settle(self.session, inv, actor=self.actor, now=self.now, payment_id=row.id)
            await self.session.flush()  # the next settle must see this one paid
            reactivated |= (
                was in ("past_due", "suspended") and sub is not None and sub.status == "active"
            )
        row.applied_at = self.now
        if self.target.request is not None:
            self.target.request.status, self.target.request.updated_at = "paid", self.now
        await self._close_other_requests()
        await record_event(
            self.session,
            self.gym.id,
            self.member.id,
            "payment_approved",
            _event_data(row, self.target),
            self.now,
        )
        await audit(
            self.session,
            self.gym.id,
            self.actor,
            "payment.applied",
            "payment",
            row.id,
            {"amount_cents": row.amount_cents, "invoice_ids": [i.id for i in invoices]},
        )
        # The member just paid: the receipt goes now, whatever the hour (not a nudge).
        await notify_member(
            self.session,
            gym=self.gym,
            member=self.member,
            now=self.now,
            body=messages.receipt(self.member, invoices, row.amount_cents, row.method, reactivated),
            template_sid=self.templates.get("payment_received"),
            template_values={
                "1": messages.first_name(self.member),
                "2": f"${row.amount_cents / 100:,.2f}",
            },
            quiet_hours=None,
        )
        return Outcome("applied", f"settled {', '.join(i.number for i in invoices)}", self.gym.id)

    async def _close_other_requests(self) -> None:
        """Other live links/vouchers for these invoices can no longer be used."""
        ids = [i.id for i in self.target.invoices]
        query = (
            select(PaymentRequest)
            .join(
                payment_request_invoices,
                payment_request_invoices.c.payment_request_id == PaymentRequest.id,
            )
            .where(payment_request_invoices.c.invoice_id.in_(ids), PaymentRequest.status == "live")
        )
        if self.target.request is not None:
            query = query.where(PaymentRequest.id != self.target.request.id)
        for req in (await self.session.scalars(query)).unique().all():
            req.status, req.updated_at = "canceled", self.now
            if req.kind in ("oxxo", "spei") and req.provider_ref:
                try:
                    await self.provider.cancel_payment(self.gym.id, req.provider_ref)
                except (ProviderUnavailable, ProviderRejected):
                    log.warning("could not cancel %s payment %s", req.kind, req.provider_ref)

    async def declined(self) -> None:
        await record_event(
            self.session,
            self.gym.id,
            self.member.id,
            "payment_rejected",
            _event_data(self.row, self.target),
            self.now,
        )
        if self.row.method == "card":
            await notify_member(
                self.session,
                gym=self.gym,
                member=self.member,
                now=self.now,
                body=messages.declined(self.member, self.row.amount_cents),
                quiet_hours=None,
            )

    async def partial_refund(self) -> None:
        before, after = self.row.refunded_cents, self.found.refunded_cents
        self.row.refunded_cents = after
        await refund_effects(
            self.session,
            self.gym,
            self.member,
            self.row,
            self.target.invoices,
            after - before,
            full=False,
            actor=self.actor,
            now=self.now,
        )

    async def full_refund(self) -> None:
        amount = self.row.amount_cents - self.row.refunded_cents
        self.row.refunded_cents = self.row.amount_cents
        if self.row.applied_at is None:
            return  # never applied (e.g. held): nothing of ours to undo
        await refund_effects(
            self.session,
            self.gym,
            self.member,
            self.row,
            self.target.invoices,
            amount,
            full=True,
            actor=self.actor,
            now=self.now,
        )

    async def charged_back(self) -> None:
        if self.row.applied_at is None:
            return
        invoices = [i for i in self.target.invoices if i.status == "paid"]
        for inv in invoices:
            inv.status, inv.paid_at = "open", None
            inv.amount_due_cents = inv.total_cents - inv.credit_applied_cents
            await audit(
                self.session, self.gym.id, self.actor, "invoice.reopened", "invoice", inv.id,
                {"why": "charged_back", "payment_id": self.row.id},
            )  # fmt: skip
            await _suspend(self.session, inv, actor=self.actor, now=self.now)
        await referral_rewards.reverse_unpaid(
            self.session,
            [i.id for i in invoices],
            why="charged_back",
            actor=self.actor,
            now=self.now,
        )
        await raise_alert(
            self.session,
            gym_id=self.gym.id,
            kind="chargeback",
            subject=self.found.id,
            message=f"Contracargo del pago {self.found.id} por "
            f"${self.row.amount_cents / 100:,.2f} ({self.member.name or self.member.phone})",
            now=self.now,
            payment_id=self.row.id,
            invoice_id=self.target.invoices[0].id,
        )
        await notify_member(
            self.session,
            gym=self.gym,
            member=self.member,
            now=self.now,
            body=messages.charged_back(self.member, invoices, self.row.amount_cents),
            quiet_hours=_quiet(self.gym),
        )


def _quiet(gym: Gym) -> tuple[int, int]:
    policy = policy_of(gym.billing_settings)
    return policy.quiet_start_hour, policy.quiet_end_hour


async def _suspend(session: AsyncSession, invoice: Invoice, *, actor: str, now: datetime) -> None:
    """A charged-back period gives no access until paid again."""
    if invoice.subscription_id is None:
        return
    sub = await session.get(Subscription, invoice.subscription_id)
    if sub is None:
        return
    if sub.status in ("trialing", "active"):
        sub.past_due_since = now
        await transition(session, sub, "past_due", actor=actor, now=now, why="charged_back")
    if sub.status == "past_due":
        await transition(session, sub, "suspended", actor=actor, now=now, why="charged_back")


async def refund_effects(
    session: AsyncSession,
    gym: Gym,
    member: Member,
    row: Payment,
    invoices: Sequence[Invoice],
    amount_cents: int,
    *,
    full: bool,
    actor: str,
    now: datetime,
) -> None:
    """What a refund means for the books and access.

    Full: the invoices it paid are voided (their balance credit goes back to the member) and
    a subscription whose refunded period has not ended is canceled — the money is back, so
    is the access. Partial: a price adjustment; the invoice stays paid and access is kept.
    Either way staff are alerted and the member told.
    """
    if full:
        row.status = "refunded"
        voided = [inv.id for inv in invoices if inv.status == "paid"]
        for inv in invoices:
            if inv.status != "paid":
                continue
            inv.status, inv.voided_at = "void", now
            if inv.credit_applied_cents:
                await credits.grant(
                    session,
                    gym_id=inv.gym_id,
                    member_id=inv.member_id,
                    amount_cents=inv.credit_applied_cents,
                    reason="reversal",
                    actor=actor,
                    now=now,
                    note=f"recibo {inv.number} reembolsado",
                    idempotency_key=f"reversal:{inv.id}",
                )
            await audit(
                session, gym.id, actor, "invoice.refunded", "invoice", inv.id,
                {"payment_id": row.id, "amount_cents": amount_cents},
            )  # fmt: skip
            sub = (
                await session.get(Subscription, inv.subscription_id)
                if inv.subscription_id
                else None
            )
            if (
                sub is not None
                and "canceled" in ALLOWED.get(sub.status, frozenset())
                and (inv.period_end is None or inv.period_end > now)
            ):
                await transition(session, sub, "canceled", actor=actor, now=now, why="refunded")
        await referral_rewards.reverse_unpaid(session, voided, why="refunded", actor=actor, now=now)
    else:
        await audit(
            session, gym.id, actor, "payment.partially_refunded", "payment", row.id,
            {"amount_cents": amount_cents, "refunded_cents": row.refunded_cents},
        )  # fmt: skip
    await record_event(
        session,
        gym.id,
        member.id,
        "payment_refunded",
        {"payment_id": row.id, "amount_cents": amount_cents, "full": full},
        now,
    )
    await raise_alert(
        session,
        gym_id=gym.id,
        kind="refund",
        subject=f"{row.provider_payment_id or row.id}:{row.refunded_cents}",
        message=f"Reembolso {'total' if full else 'parcial'} de ${amount_cents / 100:,.2f} "
        f"del pago {row.provider_payment_id or row.id}",
        now=now,
        payment_id=row.id,
        invoice_id=invoices[0].id if invoices else None,
    )
    await notify_member(
        session,
        gym=gym,
        member=member,
        now=now,
        body=messages.refunded(member, amount_cents, invoices, full),
        quiet_hours=_quiet(gym),
    )
