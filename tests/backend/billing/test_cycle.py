"""The billing cycle: renewals, charges, trials, cancellations, idempotency, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing import credits
from backend.billing.cycle import run_cycle
from backend.billing.models import Invoice, InvoiceLine, Subscription
from backend.integrations.fake_payments import FakePaymentProvider
from backend.members.models import AuditEntry, MemberEvent
from backend.payments.models import Payment
from tests.backend.billing.conftest import Billing, member_due


async def _count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_renewal_invoices_charges_and_moves_the_period(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    _, sub = await member_due(session, billing, "+525510000001")
    old_end = sub.current_period_end
    await session.commit()

    report = await run_cycle(sessionmaker, billing.provider, billing.now)

    assert (report.renewed, report.invoices, report.charged, report.declined) == (1, 1, 1, 0)
    await session.refresh(sub)
    assert sub.status == "active"
    assert sub.current_period_start == old_end
    assert sub.current_period_end > billing.now
    assert sub.class_credits_remaining == 8  # reset to the plan's credits
    invoice = await session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id))
    assert invoice is not None
    assert (invoice.status, invoice.total_cents, invoice.amount_due_cents) == ("paid", 49900, 0)
    assert invoice.subtotal_cents + invoice.tax_cents == invoice.total_cents
    lines = (
        await session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    ).all()
    assert sum(line.amount_cents for line in lines) == invoice.total_cents
    payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice.id))
    assert payment is not None and payment.status == "approved"
    assert billing.provider.approved_total_cents == 49900
    assert await _count(session, AuditEntry, AuditEntry.action == "invoice.paid") == 1
    kinds = set((await session.scalars(select(MemberEvent.kind))).all())
    assert {"invoice_issued", "payment_approved"} <= kinds


async def test_running_twice_charges_once(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    for i in range(3):
        await member_due(session, billing, f"+52551000001{i}")
    await member_due(session, billing, "+525510000019", card=None)
    await session.commit()

    first = await run_cycle(sessionmaker, billing.provider, billing.now)
    second = await run_cycle(sessionmaker, billing.provider, billing.now)

    assert first.invoices == 4 and first.charged == 3
    assert second.invoices == 0 and second.charged == 0
    assert await _count(session, Invoice) == 4
    assert await _count(session, Payment) == 3
    assert len(billing.provider.charges) == 3
    # The member without a card has an open invoice (dunning tells them how to pay).
    assert await _count(session, Invoice, Invoice.status == "open") == 1


async def test_concurrent_runs_split_the_work_and_charge_once(
    committed_sessionmaker: async_sessionmaker[AsyncSession], billing_committed: Billing
) -> None:
    b = billing_committed
    async with committed_sessionmaker() as session:
        for i in range(40):
            await member_due(session, b, f"+5255200{i:05d}")
        await session.commit()

    reports = await asyncio.gather(
        *(run_cycle(committed_sessionmaker, b.provider, b.now, chunk_size=7) for _ in range(3))
    )

    assert sum(r.invoices for r in reports) == 40
    assert sum(r.charged for r in reports) == 40
    assert len(b.provider.charges) == 40
    async with committed_sessionmaker() as session:
        assert await _count(session, Invoice) == 40
        assert await _count(session, Payment) == 40
        numbers = (await session.scalars(select(Invoice.number))).all()
        assert len(set(numbers)) == 40  # the series never hands a number out twice


async def test_declined_card_leaves_the_invoice_open(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    await member_due(session, billing, "+525510000020", card="decline-1")
    await session.commit()
    report = await run_cycle(sessionmaker, billing.provider, billing.now)
    assert (report.charged, report.declined) == (0, 1)
    invoice = await session.scalar(select(Invoice))
    assert invoice is not None and invoice.status == "open" and invoice.charge_attempts == 1
    payment = await session.scalar(select(Payment))
    assert payment is not None and payment.status == "rejected"


async def test_balance_credit_is_used_before_the_card(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    member, _ = await member_due(session, billing, "+525510000030")
    await credits.grant(
        session,
        gym_id=billing.gym.id,
        member_id=member.id,
        amount_cents=10000,
        reason="goodwill",
        actor="staff:1",
        now=billing.now,
    )
    other, _ = await member_due(session, billing, "+525510000031")
    await credits.grant(
        session,
        gym_id=billing.gym.id,
        member_id=other.id,
        amount_cents=60000,
        reason="referral",
        actor="system",
        now=billing.now,
    )
    await session.commit()

    await run_cycle(sessionmaker, billing.provider, billing.now)

    partial = await session.scalar(select(Invoice).where(Invoice.member_id == member.id))
    assert partial is not None
    assert (partial.credit_applied_cents, partial.status) == (10000, "paid")
    charged = [r.amount_cents for r, _ in billing.provider.charges.values()]
    assert charged == [39900]  # the fully covered invoice needed no charge
    covered = await session.scalar(select(Invoice).where(Invoice.member_id == other.id))
    assert (
        covered is not None and covered.status == "paid" and covered.credit_applied_cents == 49900
    )
    assert await credits.balance(session, billing.gym.id, member.id) == 0
    assert await credits.balance(session, billing.gym.id, other.id) == 60000 - 49900


async def test_cancel_at_period_end_trials_and_pending_downgrades(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    _, leaving = await member_due(session, billing, "+525510000040")
    leaving.cancel_at_period_end = True
    _, trial = await member_due(session, billing, "+525510000041", status="trialing")
    _, down = await member_due(session, billing, "+525510000042", billing.premium)
    down.pending_plan_id = billing.basico.id
    _, paused = await member_due(session, billing, "+525510000043", status="paused")
    paused.paused_at = billing.now - timedelta(days=10)
    paused.resume_at = billing.now - timedelta(minutes=5)
    paused.current_period_end = billing.now + timedelta(days=3)
    await session.commit()

    report = await run_cycle(sessionmaker, billing.provider, billing.now)

    assert (report.canceled, report.trials_converted, report.renewed, report.resumed) == (
        1,
        1,
        1,
        1,
    )
    for sub in (leaving, trial, down, paused):
        await session.refresh(sub)
    assert leaving.status == "canceled" and leaving.ended_at == billing.now
    assert trial.status == "active"
    assert down.plan_id == billing.basico.id and down.pending_plan_id is None
    down_invoice = await session.scalar(select(Invoice).where(Invoice.subscription_id == down.id))
    assert down_invoice is not None and down_invoice.total_cents == 49900
    assert paused.status == "active"
    assert paused.current_period_end == billing.now + timedelta(days=13)
    assert await _count(session, Invoice, Invoice.subscription_id == leaving.id) == 0


async def test_cycle_is_scoped_to_one_gym_when_asked(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    await member_due(session, billing, "+525510000050")
    await session.commit()
    report = await run_cycle(
        sessionmaker, FakePaymentProvider(), billing.now, gym_id=billing.gym.id + 999
    )
    assert report.invoices == 0
    assert await _count(session, Subscription, Subscription.current_period_end > billing.now) == 0
