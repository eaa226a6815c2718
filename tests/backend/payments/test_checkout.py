"""Asking a member to pay: the statement, and links/vouchers reused while alive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.errors import Conflict
from backend.integrations.fake_payments import FakePaymentProvider
from backend.payments.checkout import (
    checkout_link,
    in_scope,
    offline_payment,
    payer_email,
    statement,
)
from backend.payments.models import Payment, PaymentRequest
from backend.types import utcnow
from tests.factories import make_invoice, make_member, make_subscription, standard_gym


async def test_statement(session: AsyncSession) -> None:
    gym, _, _, premium, basico = await standard_gym(session)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 4
    sub.pending_plan_id = basico.id
    old = await make_invoice(session, ana, 50000, number="A-1", due_in_days=-9)
    new = await make_invoice(session, ana, 30000, number="A-2", due_in_days=-1)
    await make_invoice(session, ana, 10000, number="A-3", status="paid")
    await credits.grant(
        session, gym_id=gym.id, member_id=ana.id, amount_cents=5000, reason="goodwill",
        actor="test", now=utcnow(),
    )  # fmt: skip
    st = await statement(session, gym, ana)
    assert st.plan_name == "Premium" and st.status == "active"
    assert st.next_charge_at == sub.current_period_end
    assert st.next_charge_cents == basico.price_cents  # the pending downgrade
    assert st.class_credits == 4 and st.balance_credit_cents == 5000
    assert [i.number for i in st.invoices] == ["A-1", "A-2"] and st.owed_cents == 80000
    assert [i.id for i in in_scope(st.invoices, "oldest")] == [old.id]
    assert [i.id for i in in_scope(st.invoices, "all")] == [old.id, new.id]
    assert payer_email(gym, ana) == "525512345678@test.socios.gogym.mx"


async def test_live_link_is_reused_until_it_expires(session: AsyncSession) -> None:
    gym, *_ = await standard_gym(session)
    ana = await make_member(session, gym)
    inv = await make_invoice(session, ana, 79900)
    fake = FakePaymentProvider()
    now = utcnow()
    first = await checkout_link(session, fake, gym, ana, [inv], now)
    again = await checkout_link(session, fake, gym, ana, [inv], now + timedelta(hours=1))
    assert again.id == first.id
    assert first.expires_at is not None
    later = await checkout_link(session, fake, gym, ana, [inv], first.expires_at)
    assert later.id != first.id and later.external_reference.endswith(":2")
    await session.refresh(first)
    assert first.status == "expired"


async def test_voucher_rows_and_nothing_to_pay(session: AsyncSession) -> None:
    gym, *_ = await standard_gym(session)
    ana = await make_member(session, gym)
    inv = await make_invoice(session, ana, 79900)
    fake = FakePaymentProvider()
    req = await offline_payment(session, fake, gym, ana, [inv], "spei", utcnow())
    assert req.clabe and req.kind == "spei"
    pending = await session.scalar(select(Payment))
    assert pending is not None and pending.status == "pending" and pending.method == "spei"
    assert pending.payment_request_id == req.id
    paid = await make_invoice(session, ana, 100, number="A-9", status="paid")
    with pytest.raises(Conflict):
        await offline_payment(session, fake, gym, ana, [paid], "oxxo", utcnow())
    assert len((await session.scalars(select(PaymentRequest))).all()) == 1
