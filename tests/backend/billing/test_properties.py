"""Property-based checks of invoice math with credits, and of the cycle's idempotency."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing import credits
from backend.billing.cycle import run_cycle
from backend.billing.invoices import InvoiceDraft, LineDraft, invoice_lines, issue_invoice
from backend.billing.models import Invoice
from tests.backend.billing.conftest import Billing, member_due
from tests.factories import make_member

PHONES = itertools.count(5540000000)
FIXTURES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

lines_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2_000_000), st.integers(min_value=1, max_value=5)),
    min_size=1,
    max_size=6,
)


@FIXTURES
@given(lines=lines_strategy, balance=st.integers(min_value=0, max_value=5_000_000))
async def test_invoice_totals_add_up_and_credit_never_overdraws(
    session: AsyncSession, billing: Billing, lines: list[tuple[int, int]], balance: int
) -> None:
    member = await make_member(session, billing.gym, phone=f"+52{next(PHONES)}")
    if balance:
        await credits.grant(
            session,
            gym_id=billing.gym.id,
            member_id=member.id,
            amount_cents=balance,
            reason="goodwill",
            actor="test",
            now=billing.now,
        )
    draft = InvoiceDraft(
        member_id=member.id,
        reason="manual",
        due_at=billing.now,
        lines=[LineDraft("fee", "Cargo", price, qty) for price, qty in lines],
    )
    invoice = await issue_invoice(session, billing.gym.id, "T", draft, billing.now)

    stored = await invoice_lines(session, invoice.id)
    assert invoice.total_cents == sum(line.amount_cents for line in stored) == draft.total_cents
    assert invoice.subtotal_cents == sum(line.subtotal_cents for line in stored)
    assert invoice.subtotal_cents + invoice.tax_cents == invoice.total_cents
    assert all(line.subtotal_cents >= 0 and line.tax_cents >= 0 for line in stored)
    assert 0 <= invoice.credit_applied_cents <= min(balance, invoice.total_cents)
    assert invoice.amount_due_cents == invoice.total_cents - invoice.credit_applied_cents >= 0
    assert (invoice.status == "paid") == (invoice.amount_due_cents == 0)
    assert await credits.balance(session, billing.gym.id, member.id) == (
        balance - invoice.credit_applied_cents
    )


@FIXTURES
@given(
    members=st.lists(
        st.tuples(st.sampled_from(["card-ok", "decline-x", None]), st.integers(0, 60000)),
        min_size=1,
        max_size=6,
    )
)
async def test_a_cycle_run_twice_charges_once(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    billing: Billing,
    members: list[tuple[str | None, int]],
) -> None:
    provider = billing.provider  # shared by the examples, like one real provider account
    now = billing.now + timedelta(days=next(PHONES) % 1000)  # each example its own period
    ids = []
    for card, credit in members:
        member, _ = await member_due(
            session,
            billing,
            f"+52{next(PHONES)}",
            card=card,
            ended_ago=billing.now - now + timedelta(hours=1),
        )
        ids.append(member.id)
        if credit:
            await credits.grant(
                session,
                gym_id=billing.gym.id,
                member_id=member.id,
                amount_cents=credit,
                reason="goodwill",
                actor="test",
                now=now,
            )
    await session.commit()

    first = await run_cycle(sessionmaker, provider, now)
    second = await run_cycle(sessionmaker, provider, now)

    assert second.invoices == 0 and second.charged == 0
    invoices = (await session.scalars(select(Invoice).where(Invoice.member_id.in_(ids)))).all()
    assert len(invoices) == len(members) <= first.invoices
    charged = {r.external_reference for r, _ in provider.charges.values()}
    assert len(provider.charges) == len(charged)  # one charge per invoice at most
    for invoice in invoices:
        assert invoice.amount_due_cents >= 0
        assert invoice.total_cents == 49900
