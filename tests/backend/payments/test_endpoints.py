"""`/api/v1/payments`: refunds (full and partial) with their invoice and access effects,
staff alerts, reconciliation mismatches, the gym's own encrypted account, cards saved
from tokens, and the saved-card billing cycle through Mercado Pago."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.cycle import run_cycle
from backend.billing.models import Invoice, Subscription
from backend.crypto import SecretBox
from backend.payments.accounts import load_accounts
from backend.payments.checkout import checkout_link
from backend.payments.models import GymPaymentAccount, Payment, PaymentAlert, PaymentMethod
from backend.payments.reconciliation import reconcile
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    auth_headers,
    make_invoice,
    make_member,
    make_payment_method,
    make_second_gym,
    make_staff,
    make_subscription,
    standard_gym,
)
from tests.mercadopago import MercadoPago

API = "/api/v1"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def paid_member(session: AsyncSession, mp: MercadoPago, settings: Settings) -> dict:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium, status="past_due")
    inv = await make_invoice(session, ana, 79900)
    inv.subscription_id, inv.period_end = sub.id, utcnow() + timedelta(days=20)
    owner = await make_staff(session, gym, "owner")
    staff = await make_staff(session, gym, "staff")
    req = await checkout_link(session, mp.provider, gym, ana, [inv], utcnow())
    await session.commit()
    sim_payment = mp.sim.card_payment_for(req.provider_ref)
    assert await mp.settle(sim_payment["id"]) == ["applied"]
    payment = await session.scalar(select(Payment))
    assert payment is not None
    return {
        "gym": gym,
        "ana": ana,
        "sub": sub,
        "inv": inv,
        "payment": payment,
        "owner": auth_headers(settings.secret_key, owner),
        "staff": auth_headers(settings.secret_key, staff),
    }


async def test_partial_then_full_refund(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    w = await paid_member(session, mp, mp_settings)
    url = f"{API}/payments/{w['payment'].id}/refunds"
    body = ok(await mp.client.post(url, json={"amount_cents": 20000}, headers=w["owner"]))
    assert body["refunded_cents"] == 20000 and body["status"] == "approved"
    await session.refresh(w["inv"])
    await session.refresh(w["sub"])
    assert w["inv"].status == "paid" and w["sub"].status == "active"  # partial: kept
    sim_payment = mp.sim.payments[w["payment"].provider_payment_id]
    assert sim_payment["transaction_amount_refunded"] == 200.0

    # Mercado Pago's own notification of that refund changes nothing more.
    assert await mp.settle(w["payment"].provider_payment_id) == ["noted"]
    await session.refresh(w["inv"])
    assert w["inv"].status == "paid"

    too_much = await mp.client.post(url, json={"amount_cents": 70000}, headers=w["owner"])
    assert too_much.status_code == 422
    body = ok(await mp.client.post(url, json={}, headers=w["owner"]))
    assert body["refunded_cents"] == 79900 and body["status"] == "refunded"
    await session.refresh(w["inv"])
    await session.refresh(w["sub"])
    assert w["inv"].status == "void" and w["sub"].status == "canceled"
    assert sim_payment["status"] == "refunded"
    assert await mp.settle(w["payment"].provider_payment_id) == ["applied"]
    kinds = (await session.scalars(select(PaymentAlert.kind))).all()
    assert kinds == ["refund", "refund"]


async def test_refund_needs_permission_and_stays_in_the_gym(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    w = await paid_member(session, mp, mp_settings)
    url = f"{API}/payments/{w['payment'].id}/refunds"
    assert (await mp.client.post(url, json={}, headers=w["staff"])).status_code == 403
    other = await make_second_gym(session)
    boss = await make_staff(session, other, "owner", email="boss@otro.test")
    await session.commit()
    elsewhere = auth_headers(mp_settings.secret_key, boss)
    assert (await mp.client.post(url, json={}, headers=elsewhere)).status_code == 404
    listed = ok(await mp.client.get(f"{API}/payments", headers=elsewhere))
    assert listed["items"] == []


async def test_alerts_list_and_resolve(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    w = await paid_member(session, mp, mp_settings)
    mp.sim.set_status(w["payment"].provider_payment_id, "charged_back")
    await mp.settle(w["payment"].provider_payment_id)
    alerts = ok(await mp.client.get(f"{API}/payments/alerts", headers=w["staff"]))["items"]
    assert [a["kind"] for a in alerts] == ["chargeback"]
    resolved = ok(
        await mp.client.post(f"{API}/payments/alerts/{alerts[0]['id']}/resolve", headers=w["owner"])
    )
    assert resolved["resolved_by"]
    assert ok(await mp.client.get(f"{API}/payments/alerts", headers=w["staff"]))["items"] == []


async def test_reconciliation_lists_mismatches_for_staff(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    w = await paid_member(session, mp, mp_settings)
    # A payment approved at Mercado Pago whose notification never came…
    inv2 = await make_invoice(session, w["ana"], 79900, number="A-000002")
    req = await checkout_link(session, mp.provider, w["gym"], w["ana"], [inv2], utcnow())
    await session.commit()
    lost = mp.sim.card_payment_for(req.provider_ref)
    # …and one refunded there while we still count it as approved.
    mp.sim.set_status(w["payment"].provider_payment_id, "refunded")

    report = await reconcile(session, mp.provider, mp.accounts, utcnow())
    await session.commit()
    assert report.missing_locally == 1 and report.status_mismatch == 1
    again = await reconcile(session, mp.provider, mp.accounts, utcnow())
    assert again.missing_locally == 0 and again.status_mismatch == 0  # not repeated
    items = ok(await mp.client.get(f"{API}/payments/reconciliation", headers=w["staff"]))["items"]
    assert {(i["kind"], i["subject"].split(":")[0]) for i in items} == {
        ("missing_locally", str(lost["id"])),
        ("status_mismatch", w["payment"].provider_payment_id),
    }


async def test_gym_account_is_stored_encrypted(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    gym, *_ = await standard_gym(session)
    owner = await make_staff(session, gym, "owner")
    staff = await make_staff(session, gym, "staff")
    await session.commit()
    body = {
        "user_id": "777",
        "access_token": "APP_USR-secret-token-777",
        "webhook_secret": "whsec-777-secret",
    }
    url = f"{API}/payments/account"
    denied = await mp.client.put(
        url, json=body, headers=auth_headers(mp_settings.secret_key, staff)
    )
    assert denied.status_code == 403
    out = ok(
        await mp.client.put(url, json=body, headers=auth_headers(mp_settings.secret_key, owner))
    )
    assert out == {**out, "user_id": "777", "gym_id": gym.id}
    assert "access_token" not in out and "webhook_secret" not in out
    row = await session.get(GymPaymentAccount, gym.id)
    assert row is not None
    assert "secret-token" not in row.access_token_encrypted
    accounts = await load_accounts(session, SecretBox.from_settings(mp_settings))
    assert accounts[0].access_token == "APP_USR-secret-token-777"
    assert (await mp.accounts.for_gym(gym.id)) == accounts[0]


async def test_card_saved_from_a_token_keeps_only_ids(
    mp: MercadoPago, session: AsyncSession, mp_settings: Settings
) -> None:
    gym, *_ = await standard_gym(session)
    ana = await make_member(session, gym)
    staff = await make_staff(session, gym, "staff")
    await session.commit()
    out = ok(
        await mp.client.post(
            f"{API}/payment-methods/from-token",
            json={"member_id": ana.id, "card_token": "tok_test_4321"},
            headers=auth_headers(mp_settings.secret_key, staff),
        ),
        201,
    )
    assert out["last4"] == "4321" and out["brand"] == "visa" and out["is_default"]
    method = await session.scalar(select(PaymentMethod))
    assert method is not None and method.provider == "mercadopago"
    assert method.provider_customer_id in mp.sim.customers


async def test_billing_cycle_charges_saved_cards_through_mercadopago(
    mp: MercadoPago, session: AsyncSession, sessionmaker: Any
) -> None:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    sub = await make_subscription(session, ana, premium, days_left=-1)
    await make_payment_method(session, ana)
    await session.commit()
    report = await run_cycle(sessionmaker, mp.provider, utcnow())
    assert report.charged == 1
    inv = await session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id))
    assert inv is not None and inv.status == "paid"
    charges = [p for p in mp.sim.payments.values() if p["payment_type_id"] == "credit_card"]
    assert len(charges) == 1 and charges[0]["external_reference"] == f"invoice:{inv.id}"
    # Mercado Pago then notifies that very payment: nothing changes, nothing doubles.
    assert await mp.settle(charges[0]["id"], "payment.created") == ["noted"]
    assert await session.scalar(select(Subscription.status).where(Subscription.id == sub.id)) == (
        "active"
    )
