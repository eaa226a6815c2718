"""`POST /webhooks/mercadopago` end to end: signatures, storage, the processing job against
the simulator, and what each payment status does to invoices, access and the member."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Subscription
from backend.crypto import SecretBox
from backend.integrations.mercadopago import sign_notification
from backend.integrations.mercadopago_sim import SIM_WEBHOOK_SECRET
from backend.members.models import AuditEntry
from backend.messaging.models import OutboxMessage
from backend.payments.accounts import save_account
from backend.payments.checkout import checkout_link, offline_payment
from backend.payments.models import Payment, PaymentAlert, PaymentNotification, PaymentRequest
from backend.payments.provider import ProviderUnavailable
from backend.payments.tasks import sweep_notifications
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    make_invoice,
    make_member,
    make_second_gym,
    make_subscription,
    standard_gym,
)
from tests.mercadopago import MercadoPago


async def count(session: AsyncSession, model: type, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def owing(session: AsyncSession, amount: int = 79900) -> dict[str, Any]:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium, status="past_due")
    inv = await make_invoice(session, ana, amount)
    inv.subscription_id = sub.id
    await session.commit()
    return {"gym": gym, "ana": ana, "sub": sub, "inv": inv}


async def paid_link(session: AsyncSession, mp: MercadoPago, world: dict[str, Any]) -> dict:
    req = await checkout_link(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], utcnow()
    )
    await session.commit()
    return mp.sim.card_payment_for(req.provider_ref)


async def test_approved_payment_settles_reactivates_and_sends_a_receipt(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    assert await mp.notify(payment["id"], "payment.created") == {"status": "received"}
    assert await count(session, PaymentNotification) == 1
    assert await mp.process() == ["applied"]

    inv, sub = world["inv"], world["sub"]
    await session.refresh(inv)
    await session.refresh(sub)
    assert inv.status == "paid" and sub.status == "active"
    row = await session.scalar(select(Payment))
    assert row is not None and row.provider_payment_id == str(payment["id"])
    assert row.method == "card" and row.amount_cents == 79900 and row.applied_at is not None
    receipt = await session.scalar(select(OutboxMessage))
    assert receipt is not None and "Pago recibido" in receipt.body
    assert "acceso ya está activo" in receipt.body
    req = await session.scalar(select(PaymentRequest))
    assert req is not None and req.status == "paid"


async def test_forged_signature_is_refused_and_nothing_stored(
    mp: MercadoPago, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    note = mp.sim.notification_for(str(payment["id"]))
    forged = sign_notification(
        str(payment["id"]), note.headers["x-request-id"], "wrong", int(time.time())
    )
    with caplog.at_level(logging.WARNING):
        response = await mp.deliver(note, {"x-signature": forged})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "SignatureMismatch" in caplog.text
    # Signed for another payment id: the manifest binds the id.
    other = mp.sim.notification_for(str(payment["id"]))
    other.query["data.id"] = "999"
    assert (await mp.deliver(other)).status_code == 401
    # No signature at all.
    bare = mp.sim.notification_for(str(payment["id"]))
    del bare.headers["x-signature"]
    assert (await mp.deliver(bare)).status_code == 401
    assert await count(session, PaymentNotification) == 0
    assert mp.pending_jobs() == []


async def test_stale_timestamp_is_refused(mp: MercadoPago, session: AsyncSession) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    stale = mp.sim.notification_for(str(payment["id"]), ts=int(time.time()) - 3600)
    response = await mp.deliver(stale)
    assert response.status_code == 401
    assert await count(session, PaymentNotification) == 0


async def test_malformed_notifications_are_rejected_clearly(mp: MercadoPago) -> None:
    response = await mp.client.post(
        "/webhooks/mercadopago?data.id=1&type=payment",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_notification"
    response = await mp.client.post("/webhooks/mercadopago", json={"type": "payment"})
    assert response.status_code == 400


async def test_same_delivery_twice_is_stored_once(mp: MercadoPago, session: AsyncSession) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    note = mp.sim.notification_for(str(payment["id"]))
    first = await mp.deliver(note)
    again = await mp.deliver(note)
    assert first.json() == {"status": "received"} and again.json() == {"status": "duplicate"}
    assert await count(session, PaymentNotification) == 1


async def test_ten_notifications_of_one_payment_apply_it_once(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    for _ in range(10):
        await mp.notify(payment["id"])
    assert await count(session, PaymentNotification) == 10
    outcomes = await mp.process()
    assert outcomes.count("applied") == 1 and outcomes.count("noted") == 9
    assert await count(session, Payment) == 1
    assert await count(session, AuditEntry, AuditEntry.action == "invoice.paid") == 1
    assert await count(session, OutboxMessage) == 1
    # A job that runs twice (arq may) does nothing the second time.
    note_id = await session.scalar(select(PaymentNotification.id).limit(1))
    mp.jobs.enqueued.append(("process_payment_notification", (note_id,), None))
    assert await mp.process() == ["skipped"]


async def test_rejected_card_tells_the_member_and_offers_oxxo_spei(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    req = await checkout_link(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], utcnow()
    )
    await session.commit()
    payment = mp.sim.card_payment_for(req.provider_ref, approved=False)
    assert await mp.settle(payment["id"]) == ["noted"]
    assert await mp.settle(payment["id"]) == ["noted"]  # told once, not twice
    messages = (await session.scalars(select(OutboxMessage.body))).all()
    assert len(messages) == 1 and "rechazado" in messages[0]
    assert "OXXO" in messages[0] and "SPEI" in messages[0]
    await session.refresh(world["inv"])
    assert world["inv"].status == "open"


async def test_oxxo_pending_then_paid(mp: MercadoPago, session: AsyncSession) -> None:
    world = await owing(session)
    req = await offline_payment(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], "oxxo", utcnow()
    )
    await session.commit()
    assert await mp.settle(req.provider_ref, "payment.created") == ["noted"]
    await session.refresh(world["inv"])
    assert world["inv"].status == "open"
    mp.sim.set_status(req.provider_ref, "approved")
    assert await mp.settle(req.provider_ref) == ["applied"]
    await session.refresh(world["inv"])
    assert world["inv"].status == "paid"
    row = await session.scalar(select(Payment))
    assert row is not None and row.method == "oxxo" and row.status == "approved"
    assert await count(session, Payment) == 1


async def test_expired_oxxo_voucher_is_replaced_and_never_applied_twice(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    old = await offline_payment(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], "oxxo", utcnow()
    )
    await session.commit()
    later = old.expires_at
    assert later is not None
    new = await offline_payment(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], "oxxo", later
    )
    await session.commit()
    assert new.id != old.id and new.reference != old.reference
    await session.refresh(old)
    assert old.status == "replaced"
    assert mp.sim.payments[old.provider_ref]["status"] == "cancelled"
    # The new voucher is paid; even if the old one somehow were too, it is held.
    mp.sim.set_status(new.provider_ref, "approved")
    assert await mp.settle(new.provider_ref) == ["applied"]
    mp.sim.set_status(old.provider_ref, "approved")
    assert await mp.settle(old.provider_ref) == ["held"]
    alert = await session.scalar(select(PaymentAlert))
    assert alert is not None and alert.kind == "already_paid"
    assert await count(session, AuditEntry, AuditEntry.action == "invoice.paid") == 1


async def test_amount_not_matching_is_held_for_review(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    req = await checkout_link(
        session, mp.provider, world["gym"], world["ana"], [world["inv"]], utcnow()
    )
    await session.commit()
    payment = mp.sim.card_payment_for(req.provider_ref)
    payment["transaction_amount"] = 500.0  # paid less than the invoice
    assert await mp.settle(payment["id"]) == ["held"]
    await session.refresh(world["inv"])
    assert world["inv"].status == "open"
    row = await session.scalar(select(Payment))
    assert row is not None and row.held_reason == "amount_mismatch" and row.applied_at is None
    alert = await session.scalar(select(PaymentAlert))
    assert alert is not None and alert.kind == "amount_mismatch"
    assert alert.data["paid_cents"] == 50000 and alert.data["expected_cents"] == 79900
    assert await mp.settle(payment["id"]) == ["held"]
    assert await count(session, PaymentAlert) == 1


async def test_unknown_reference_is_rejected_and_logged(
    mp: MercadoPago, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    await owing(session)
    payment = mp.sim._new_payment(
        collector="1234567890", amount=100.0, description="?", external_reference="gg:999:link:1:1",
        payment_type="credit_card", method="visa", status="approved", detail="accredited",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert await mp.settle(payment["id"]) == ["rejected"]
    assert "unknown reference" in caplog.text
    note = await session.scalar(select(PaymentNotification))
    assert note is not None and note.status == "rejected" and "unknown reference" in note.detail
    assert await count(session, Payment) == 0


async def test_payment_of_another_gym_is_rejected(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    """Gym B has its own Mercado Pago account; a payment that reaches the default account
    while naming gym B's invoice is not applied to gym B."""
    world = await owing(session)
    other = await make_second_gym(session)
    bea = await make_member(session, other, phone="+525511112222")
    inv_b = await make_invoice(session, bea, 79900, number="B-000001")
    await save_account(
        session, SecretBox.from_settings(mp_settings), gym_id=other.id, user_id="555",
        access_token="TEST-other-gym-token", webhook_secret="other-secret", public_key="",
        actor="test", now=utcnow(),
    )  # fmt: skip
    await session.commit()
    mp.accounts.invalidate()
    # gym A's link is fine; then a payment at the default account naming gym B's invoice.
    payment = mp.sim._new_payment(
        collector="1234567890", amount=799.0, description="x",
        external_reference=f"invoice:{inv_b.id}", payment_type="credit_card", method="visa",
        status="approved", detail="accredited",
    )  # fmt: skip
    assert await mp.settle(payment["id"]) == ["rejected"]
    await session.refresh(inv_b)
    assert inv_b.status == "open"
    note = await session.scalar(select(PaymentNotification))
    assert note is not None and note.detail == "payment of another gym"
    assert world["inv"].status == "open"


async def test_refunded_at_provider_voids_the_invoice_and_ends_access(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    assert await mp.settle(payment["id"]) == ["applied"]
    mp.sim.set_status(str(payment["id"]), "refunded")
    assert await mp.settle(payment["id"]) == ["applied"]
    assert await mp.settle(payment["id"]) == ["applied"]  # repeated: no second effect
    inv, sub = world["inv"], world["sub"]
    await session.refresh(inv)
    await session.refresh(sub)
    assert inv.status == "void" and sub.status == "canceled"
    alerts = (await session.scalars(select(PaymentAlert.kind))).all()
    assert alerts == ["refund"]
    row = await session.scalar(select(Payment))
    assert row is not None and row.status == "refunded" and row.refunded_cents == 79900


async def test_chargeback_reopens_the_invoice_suspends_and_alerts_staff(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    assert await mp.settle(payment["id"]) == ["applied"]
    mp.sim.set_status(str(payment["id"]), "charged_back")
    assert await mp.settle(payment["id"]) == ["applied"]
    assert await mp.settle(payment["id"]) == ["applied"]
    inv, sub = world["inv"], world["sub"]
    await session.refresh(inv)
    await session.refresh(sub)
    assert inv.status == "open" and inv.amount_due_cents == 79900
    assert sub.status == "suspended"
    alert = await session.scalar(select(PaymentAlert))
    assert alert is not None and alert.kind == "chargeback"
    assert await count(session, AuditEntry, AuditEntry.action == "payment_alert.chargeback") == 1


async def test_signature_uses_the_account_secret(mp: MercadoPago, session: AsyncSession) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    note = mp.sim.notification_for(str(payment["id"]))
    assert note.headers["x-signature"] == sign_notification(
        str(payment["id"]),
        note.headers["x-request-id"],
        SIM_WEBHOOK_SECRET,
        int(note.headers["x-signature"].split(",")[0].removeprefix("ts=")),
    )


async def test_provider_down_leaves_the_notification_for_the_sweep(
    mp: MercadoPago, session: AsyncSession
) -> None:
    world = await owing(session)
    payment = await paid_link(session, mp, world)
    await mp.notify(payment["id"])
    mp.sim.fail_next(503, times=3)
    with pytest.raises(ProviderUnavailable):
        await mp.process()
    note = await session.scalar(select(PaymentNotification))
    assert note is not None and note.status == "received"
    processed = await sweep_notifications(
        mp.sessionmaker, mp.provider, mp.accounts, utcnow().replace(year=utcnow().year + 1)
    )
    assert processed == 1
    await session.refresh(world["inv"])
    assert world["inv"].status == "paid"
    assert await session.scalar(select(Subscription.status)) == "active"
    assert await count(session, Invoice, Invoice.status == "paid") == 1
