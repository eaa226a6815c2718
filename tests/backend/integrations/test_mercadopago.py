"""The Mercado Pago adapter on the official SDK against the local simulator: wire format,
our idempotency keys, retries of 5xx and timeouts with the SAME key, errors, signatures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from backend.integrations.mercadopago import (
    MercadoPagoProvider,
    centavos,
    pesos,
    sign_notification,
    signature_manifest,
    signature_problem,
)
from backend.integrations.mercadopago_sim import MercadoPagoSimulator
from backend.payments.provider import (
    ChargeRequest,
    CheckoutRequest,
    OfflinePaymentRequest,
    PaymentSearch,
    ProviderRejected,
    ProviderUnavailable,
    RefundRequest,
    SaveCardRequest,
    StaticCredentials,
)

Sim = tuple[MercadoPagoSimulator, str]
LATER = datetime.now(UTC) + timedelta(days=3)


def checkout(key: str = "gg:1:link:1:1", amount: int = 79950) -> CheckoutRequest:
    return CheckoutRequest(None, amount, "GoGym · Recibo A-1", key, key, LATER)


def offline(key: str = "gg:1:oxxo:1:1") -> OfflinePaymentRequest:
    return OfflinePaymentRequest(None, 79900, "Recibo A-1", key, key, LATER, "a@b.mx", "Ana")


def test_money_crosses_the_wire_exactly() -> None:
    assert pesos(79900) == 799 and isinstance(pesos(79900), int)
    assert pesos(49950) == 499.5 and pesos(1) == 0.01
    for cents in (1, 10, 99, 12345, 49950, 999_999_99):
        assert centavos(pesos(cents)) == cents
    assert centavos(None) == 0 and centavos("1250.10") == 125010


async def test_checkout_link_carries_our_reference_and_key(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    sim, url = mercadopago_api
    link = await mp_provider.create_checkout_link(checkout())
    pref = sim.preferences[link.preference_id]
    assert pref["external_reference"] == "gg:1:link:1:1"
    assert pref["items"][0]["unit_price"] == 799.5 and pref["items"][0]["currency_id"] == "MXN"
    assert link.url == f"{url}/checkout/{link.preference_id}"
    assert ("POST", "/checkout/preferences", "gg:1:link:1:1") in sim.requests_seen


async def test_oxxo_and_spei(mp_provider: MercadoPagoProvider, mercadopago_api: Sim) -> None:
    sim, _ = mercadopago_api
    oxxo = await mp_provider.create_cash_payment(offline())
    assert oxxo.status == "pending" and len(oxxo.reference) == 14
    assert oxxo.ticket_url.endswith(f"/tickets/{oxxo.provider_payment_id}")
    assert oxxo.expires_at is not None
    assert sim.payments[oxxo.provider_payment_id]["payment_method_id"] == "oxxo"
    spei = await mp_provider.create_bank_transfer(offline("gg:1:spei:1:1"))
    assert len(spei.clabe) == 18 and spei.bank == "STP" and spei.reference


async def test_a_500_is_retried_with_the_same_key(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    sim, _ = mercadopago_api
    sim.fail_next(500, times=2)
    voucher = await mp_provider.create_cash_payment(offline("gg:1:oxxo:9:1"))
    keys = [k for m, p, k in sim.requests_seen if p == "/v1/payments"]
    assert keys == ["gg:1:oxxo:9:1"] * 3
    assert list(sim.payments) == [voucher.provider_payment_id]


async def test_a_timeout_is_retried_with_the_same_key_and_charges_once(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    """The first attempt is processed at the provider but its answer comes too late: the
    retry carries the same key and gets the same payment back, not a second one."""
    sim, _ = mercadopago_api
    sim.delay_next(1.5)
    voucher = await mp_provider.create_cash_payment(offline("gg:1:oxxo:8:1"))
    assert len(sim.payments) == 1 and voucher.provider_payment_id in sim.payments
    keys = [k for m, p, k in sim.requests_seen if p == "/v1/payments"]
    assert keys == ["gg:1:oxxo:8:1", "gg:1:oxxo:8:1"]


async def test_the_sdk_random_key_is_replaced_by_ours(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    sim, _ = mercadopago_api
    await mp_provider.create_checkout_link(checkout("gg:1:link:7:1"))
    await mp_provider.create_checkout_link(checkout("gg:1:link:7:1"))
    assert len(sim.preferences) == 1


async def test_persistent_outage_raises_unavailable(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    sim, _ = mercadopago_api
    sim.fail_next(503, times=3)
    with pytest.raises(ProviderUnavailable):
        await mp_provider.get_payment(None, "1")


async def test_unreachable_provider_raises_unavailable() -> None:
    dead = MercadoPagoProvider(
        StaticCredentials("t"), base_url="http://127.0.0.1:9", timeout=0.2, backoff_seconds=0.0
    )
    with pytest.raises(ProviderUnavailable):
        await dead.get_payment(None, "1")


async def test_4xx_is_not_retried(mp_provider: MercadoPagoProvider, mercadopago_api: Sim) -> None:
    sim, _ = mercadopago_api
    with pytest.raises(ProviderRejected) as err:
        await mp_provider.create_checkout_link(checkout(amount=0))
    assert err.value.status == 400
    assert len([p for _, p, _ in sim.requests_seen if p == "/checkout/preferences"]) == 1
    bad_token = MercadoPagoProvider(StaticCredentials("nope"), base_url=mercadopago_api[1])
    with pytest.raises(ProviderRejected) as err:
        await bad_token.get_payment(None, "1")
    assert err.value.status == 401


async def test_lookup_refund_search(mp_provider: MercadoPagoProvider, mercadopago_api: Sim) -> None:
    sim, _ = mercadopago_api
    assert await mp_provider.get_payment(None, "404404") is None
    link = await mp_provider.create_checkout_link(checkout("gg:1:link:5:1", 100000))
    paid = sim.card_payment_for(link.preference_id)
    found = await mp_provider.get_payment(None, str(paid["id"]))
    assert found is not None and found.status == "approved" and found.amount_cents == 100000
    assert found.external_reference == "gg:1:link:5:1" and found.payment_type == "credit_card"

    partial = await mp_provider.refund(RefundRequest(None, found.id, 25050, "refund:1:0:25050"))
    assert partial.amount_cents == 25050
    again = await mp_provider.refund(RefundRequest(None, found.id, 25050, "refund:1:0:25050"))
    assert again.refund_id == partial.refund_id  # same key: the same refund, not a second
    after = await mp_provider.get_payment(None, found.id)
    assert after is not None and after.refunded_cents == 25050 and after.status == "approved"
    rest = await mp_provider.refund(RefundRequest(None, found.id, None, "refund:1:25050:74950"))
    assert rest.amount_cents == 74950
    after = await mp_provider.get_payment(None, found.id)
    assert after is not None and after.status == "refunded" and after.refunded_cents == 100000

    now = datetime.now(UTC)
    found_all = await mp_provider.search_payments(
        PaymentSearch(None, now - timedelta(hours=1), now + timedelta(hours=1))
    )
    assert [p.id for p in found_all] == [found.id]


async def test_saved_card_and_charge(
    mp_provider: MercadoPagoProvider, mercadopago_api: Sim
) -> None:
    sim, _ = mercadopago_api
    card = await mp_provider.save_card(SaveCardRequest(None, "a@b.mx", "tok_test_1111", "card:1"))
    assert card.customer_id and card.card_id and card.last4 == "1111" and card.brand == "visa"
    again = await mp_provider.save_card(SaveCardRequest(None, "a@b.mx", "tok_test_2222", "card:2"))
    assert again.customer_id == card.customer_id  # the same customer is found by email
    request = ChargeRequest(
        79900, card.customer_id, card.card_id, "Recibo A-1", "charge:invoice:1:0", "invoice:1"
    )
    charged = await mp_provider.charge_saved_card(request)
    assert charged.status == "approved"
    twice = await mp_provider.charge_saved_card(request)
    assert twice.provider_payment_id == charged.provider_payment_id
    assert len([p for p in sim.payments.values() if p["payment_type_id"] == "credit_card"]) == 1
    declined = await mp_provider.charge_saved_card(
        ChargeRequest(79900, card.customer_id, "decline-9", "x", "charge:invoice:2:0", "invoice:2")
    )
    assert declined.status == "rejected"


def test_signature_manifest_and_checks() -> None:
    assert (
        signature_manifest("123", "req-1", "1700000000") == "id:123;request-id:req-1;ts:1700000000;"
    )
    now = time.time()
    header = sign_notification("123", "req-1", "s3cret", int(now))
    assert signature_problem(header, "req-1", "123", "s3cret", 300, now=now) is None
    assert signature_problem(header, "req-2", "123", "s3cret", 300, now=now) == "SignatureMismatch"
    assert signature_problem(header, "req-1", "124", "s3cret", 300, now=now) == "SignatureMismatch"
    assert signature_problem(header, "req-1", "123", "other", 300, now=now) == "SignatureMismatch"
    assert (
        signature_problem(header, "req-1", "123", "s3cret", 300, now=now + 301)
        == "TimestampOutOfTolerance"
    )
    assert signature_problem(None, "req-1", "123", "s3cret", 300) == "MissingSignatureHeader"
    assert signature_problem("garbage", "req-1", "123", "s3cret", 300) == "MalformedSignatureHeader"
