"""Invoices: drafting lines, numbering, applying balance credit, and settling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.models import CreditEntry, Invoice, InvoiceLine, Subscription
from backend.billing.numbering import take_numbers
from backend.billing.tax import split_iva
from backend.billing.transitions import transition
from backend.errors import Conflict
from backend.jobs import enqueue_after_commit
from backend.members.service import audit, record_event


@dataclass(frozen=True)
class LineDraft:
    kind: str
    description: str
    unit_price_cents: int
    quantity: int = 1
    plan_id: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None

    @property
    def amount_cents(self) -> int:
        return self.unit_price_cents * self.quantity


@dataclass
class InvoiceDraft:
    member_id: int
    reason: str
    due_at: datetime
    lines: list[LineDraft]
    idempotency_key: str | None = None
    subscription_id: int | None = None
    company_id: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    # Balance credit is applied unless the invoice goes to a company.
    apply_credit: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def line_row(gym_id: int, invoice_id: int, line: LineDraft) -> dict[str, Any]:
    subtotal, tax = split_iva(line.amount_cents)
    return {
        "invoice_id": invoice_id,
        "gym_id": gym_id,
        "kind": line.kind,
        "description": line.description[:200],
        "plan_id": line.plan_id,
        "quantity": line.quantity,
        "unit_price_cents": line.unit_price_cents,
        "amount_cents": line.amount_cents,
        "subtotal_cents": subtotal,
        "tax_cents": tax,
        "period_start": line.period_start,
        "period_end": line.period_end,
    }


@dataclass(frozen=True)
class Issued:
    id: int
    number: str
    member_id: int
    amount_due_cents: int


async def issue_invoices(
    session: AsyncSession, gym_id: int, series: str, drafts: Sequence[InvoiceDraft], now: datetime
) -> dict[str, Issued]:
    """Create invoices in bulk; returns {idempotency key (or number): Issued} of those created.

    Drafts whose key already has an invoice are skipped, so a job that runs twice issues
    once. Balance credit is applied first; an invoice fully covered by credit is born paid.
    """
    keyed = [d for d in drafts if d.idempotency_key]
    if keyed:
        existing = set(
            (
                await session.scalars(
                    select(Invoice.idempotency_key).where(
                        Invoice.idempotency_key.in_([d.idempotency_key for d in keyed])
                    )
                )
            ).all()
        )
        drafts = [d for d in drafts if d.idempotency_key not in existing]
    if not drafts:
        return {}
    numbers = await take_numbers(session, gym_id, series, len(drafts))
    available = await credits.balances(
        session, gym_id, {d.member_id for d in drafts if d.apply_credit}
    )
    rows, used, dues = [], {}, []
    for draft, number in zip(drafts, numbers, strict=True):
        total = draft.total_cents
        subtotal = sum(split_iva(line.amount_cents)[0] for line in draft.lines)
        credit = min(available.get(draft.member_id, 0), total) if draft.apply_credit else 0
        if credit:
            available[draft.member_id] -= credit
            used[number] = credit
        due = total - credit
        dues.append(due)
        rows.append(
            {
                "gym_id": gym_id,
                "member_id": draft.member_id,
                "subscription_id": draft.subscription_id,
                "company_id": draft.company_id,
                "number": number,
                "status": "open" if due > 0 else "paid",
                "subtotal_cents": subtotal,
                "tax_cents": total - subtotal,
                "total_cents": total,
                "credit_applied_cents": credit,
                "amount_due_cents": due,
                "period_start": draft.period_start,
                "period_end": draft.period_end,
                "issued_at": now,
                "due_at": draft.due_at,
                "paid_at": None if due > 0 else now,
                "reason": draft.reason,
                "idempotency_key": draft.idempotency_key,
                "charge_attempts": 0,
            }
        )
    result = await session.execute(insert(Invoice).returning(Invoice.id, Invoice.number), rows)
    ids = {number: invoice_id for invoice_id, number in result.tuples()}
    line_rows = [
        line_row(gym_id, ids[number], line)
        for draft, number in zip(drafts, numbers, strict=True)
        for line in draft.lines
    ]
    if line_rows:
        await session.execute(insert(InvoiceLine), line_rows)
    if used:
        members = {number: d.member_id for d, number in zip(drafts, numbers, strict=True)}
        await session.execute(
            insert(CreditEntry),
            [
                credits.use_entry(gym_id, members[number], ids[number], amount, now)
                for number, amount in used.items()
            ],
        )
    return {
        (draft.idempotency_key or number): Issued(ids[number], number, draft.member_id, due)
        for draft, number, due in zip(drafts, numbers, dues, strict=True)
    }


async def issue_invoice(
    session: AsyncSession, gym_id: int, series: str, draft: InvoiceDraft, now: datetime
) -> Invoice:
    """One invoice (or the one already issued under the draft's idempotency key)."""
    created = await issue_invoices(session, gym_id, series, [draft], now)
    if created:
        invoice = await session.get(Invoice, next(iter(created.values())).id)
    else:
        invoice = await session.scalar(
            select(Invoice).where(Invoice.idempotency_key == draft.idempotency_key)
        )
    assert invoice is not None
    if created:
        await record_event(
            session,
            gym_id,
            draft.member_id,
            "invoice_issued",
            {"invoice_id": invoice.id, "total_cents": invoice.total_cents},
            now,
        )
    return invoice


async def invoice_lines(session: AsyncSession, invoice_id: int) -> Sequence[InvoiceLine]:
    rows = await session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
    )
    return rows.all()


async def settle(
    session: AsyncSession, invoice: Invoice, *, actor: str, now: datetime, payment_id: int | None
) -> bool:
    """Mark an open invoice paid and give access back; False when it was not open.

    Callers lock the invoice row first (see `lock_invoice`) so two deliveries of the same
    payment cannot both settle it.
    """
    if invoice.status != "open":
        return False
    invoice.status, invoice.paid_at, invoice.amount_due_cents = "paid", now, 0
    if payment_id is not None:
        # CFDI (issue #6): the payment's invoice is stamped after this commits, if the
        # member has fiscal data; the CFDI sweep covers payments applied elsewhere.
        enqueue_after_commit(
            session, "issue_cfdi_for_payment", payment_id, job_id=f"cfdi:issue:{payment_id}"
        )
    await record_event(
        session,
        invoice.gym_id,
        invoice.member_id,
        "invoice_paid",
        {"invoice_id": invoice.id, "total_cents": invoice.total_cents},
        now,
    )
    await audit(
        session,
        invoice.gym_id,
        actor,
        "invoice.paid",
        "invoice",
        invoice.id,
        {"payment_id": payment_id, "total_cents": invoice.total_cents},
    )
    # A referred friend's first paid invoice converts their referral (rewards are idempotent).
    enqueue_after_commit(
        session, "referral_check", invoice.member_id, job_id=f"referral-check:{invoice.id}"
    )
    if invoice.subscription_id is not None:
        sub = await session.get(Subscription, invoice.subscription_id)
        if sub is not None and sub.status in ("past_due", "suspended"):
            still_open = await session.scalar(
                select(Invoice.id).where(
                    Invoice.subscription_id == sub.id,
                    Invoice.status == "open",
                    Invoice.id != invoice.id,
                )
            )
            if still_open is None:
                await transition(session, sub, "active", actor=actor, now=now, why="paid")
    return True


async def lock_invoice(session: AsyncSession, gym_id: int, invoice_id: int) -> Invoice | None:
    query = select(Invoice).where(Invoice.id == invoice_id, Invoice.gym_id == gym_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query)


async def void(session: AsyncSession, invoice: Invoice, *, actor: str, now: datetime) -> None:
    """Void an open invoice; balance credit it used goes back to the member."""
    if invoice.status != "open":
        raise Conflict(
            "Solo se puede cancelar un recibo pendiente.", "Only an open invoice can be voided."
        )
    invoice.status, invoice.voided_at, invoice.amount_due_cents = "void", now, 0
    if invoice.credit_applied_cents:
        await credits.grant(
            session,
            gym_id=invoice.gym_id,
            member_id=invoice.member_id,
            amount_cents=invoice.credit_applied_cents,
            reason="reversal",
            actor=actor,
            now=now,
            note=f"recibo {invoice.number} cancelado",
            idempotency_key=f"reversal:{invoice.id}",
        )
    await audit(session, invoice.gym_id, actor, "invoice.voided", "invoice", invoice.id, {})
