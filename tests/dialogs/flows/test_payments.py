"""Paying by chat through the real signed WhatsApp webhook, with the real Mercado Pago
adapter talking to the simulator: account, link, OXXO, SPEI, saved card, scope, English."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Subscription
from backend.payments.models import Payment, PaymentRequest
from tests.factories import (
    make_invoice,
    make_member,
    make_payment_method,
    make_subscription,
    standard_gym,
)
from tests.mercadopago import MercadoPago
from tests.whatsapp import WhatsApp


async def owing_member(session: AsyncSession, invoices: int = 1, **kw: object) -> tuple:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym, **kw)
    sub = await make_subscription(session, ana, premium, status="past_due")
    sub.class_credits_remaining = 6
    made = []
    for n in range(invoices):
        inv = await make_invoice(
            session, ana, 79900, number=f"A-00000{n + 1}", due_in_days=-10 + n * 5
        )
        inv.subscription_id = sub.id
        made.append(inv)
    await session.commit()
    return gym, ana, sub, made


async def test_cuanto_debo_shows_the_account_and_the_options(
    mp_wa: WhatsApp, session: AsyncSession
) -> None:
    await owing_member(session)
    reply = await mp_wa.say("cuánto debo")
    assert "Tu cuenta en GoGym Test" in reply
    assert "Premium" in reply and "con pago pendiente" in reply
    assert "Próximo cargo" in reply and "$799" in reply
    assert "te quedan 6" in reply
    assert "A-000001: $799 (venció el" in reply
    assert "Total pendiente: *$799*" in reply
    assert "1. Tarjeta (link de Mercado Pago)" in reply and "2. Efectivo en OXXO" in reply
    assert "3. Transferencia SPEI" in reply and "4. En recepción" in reply


async def test_nothing_owed_says_so_with_the_next_charge(
    mp_wa: WhatsApp, session: AsyncSession
) -> None:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    reply = await mp_wa.say("quiero pagar")
    assert "No tienes nada pendiente" in reply and "próximo cargo" in reply


async def test_card_link_then_paying_it_settles_and_reactivates(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    _, _, sub, (inv,) = await owing_member(session)
    reply = await mp_wa.say("quiero pagar")
    assert "¿Cómo quieres pagar?" in reply
    reply = await mp_wa.say("1")
    url = re.search(r"(http\S+/checkout/\S+)", reply)
    assert url, reply
    assert "$799" in reply and "A-000001" in reply
    pref_id = url.group(1).rsplit("/", 1)[1]
    assert mp.sim.preferences[pref_id]["external_reference"].startswith("gg:")

    # Asking again reuses the live link instead of creating another.
    again = await mp_wa.say("quiero pagar con tarjeta")
    assert url.group(1) in again and "sigue vigente" in again
    assert len(mp.sim.preferences) == 1

    payment = mp.sim.card_payment_for(pref_id)
    assert await mp.settle(payment["id"], "payment.created") == ["applied"]
    await session.refresh(inv)
    await session.refresh(sub)
    assert inv.status == "paid" and sub.status == "active"


async def test_puedo_pagar_en_oxxo_replies_reference_ticket_and_expiry(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    await owing_member(session)
    reply = await mp_wa.say("puedo pagar en oxxo?")
    assert "OXXO" in reply and "referencia" in reply and "Vence el" in reply
    reference = re.search(r"\*(\d{14})\*", reply)
    assert reference, reply
    assert "/tickets/" in reply
    req = await session.scalar(select(PaymentRequest).where(PaymentRequest.kind == "oxxo"))
    assert req is not None and req.reference == reference.group(1)
    sim_payment = mp.sim.payments[req.provider_ref]
    assert sim_payment["payment_method_id"] == "oxxo"
    assert sim_payment["transaction_amount"] == 799


async def test_spei_gives_clabe_and_reference(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    await owing_member(session)
    await mp_wa.say("quiero pagar")
    reply = await mp_wa.say("spei")
    clabe = re.search(r"CLABE: \*(\d{18})\*", reply)
    assert clabe, reply
    assert "Referencia" in reply and "$799" in reply


async def test_bare_spei_after_a_decline_starts_a_payment(
    mp_wa: WhatsApp, session: AsyncSession
) -> None:
    await owing_member(session)
    reply = await mp_wa.say("spei")
    assert "CLABE" in reply


async def test_front_desk(mp_wa: WhatsApp, session: AsyncSession) -> None:
    await owing_member(session)
    await mp_wa.say("quiero pagar")
    reply = await mp_wa.say("4")
    assert "recepción" in reply and "$799" in reply


async def test_saved_card_needs_an_explicit_yes(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    _, ana, sub, (inv,) = await owing_member(session)
    await make_payment_method(session, ana)
    await session.commit()
    reply = await mp_wa.say("cóbrame con mi tarjeta")
    assert "¿Te cobro *$799* a tu Visa •••• 4242" in reply
    assert not [p for p in mp.sim.payments.values() if p["payment_type_id"] == "credit_card"]
    reply = await mp_wa.say("sí")
    assert "Cobré $799 a tu Visa •••• 4242" in reply and "acceso ya está activo" in reply
    await session.refresh(inv)
    await session.refresh(sub)
    assert inv.status == "paid" and sub.status == "active"
    charges = [p for p in mp.sim.payments.values() if p["payment_type_id"] == "credit_card"]
    assert len(charges) == 1 and charges[0]["external_reference"] == f"invoice:{inv.id}"


async def test_saved_card_no_means_no_charge(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    _, ana, _, _ = await owing_member(session)
    await make_payment_method(session, ana)
    await session.commit()
    await mp_wa.say("cóbrame con mi tarjeta")
    reply = await mp_wa.say("no")
    assert "no cobré nada" in reply
    assert not mp.sim.payments


async def test_declined_saved_card_offers_oxxo_and_spei(
    mp_wa: WhatsApp, session: AsyncSession
) -> None:
    _, ana, _, (inv,) = await owing_member(session)
    await make_payment_method(session, ana, card_id="decline-1")
    await session.commit()
    await mp_wa.say("cóbrame con mi tarjeta")
    reply = await mp_wa.say("sí")
    assert "rechazó" in reply and "OXXO" in reply and "SPEI" in reply
    reply = await mp_wa.say("1")  # the first option left is OXXO
    assert "OXXO" in reply and "referencia" in reply
    await session.refresh(inv)
    assert inv.status == "open"


async def test_several_invoices_pay_all_or_only_the_oldest(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    await owing_member(session, invoices=2)
    reply = await mp_wa.say("quiero pagar")
    assert "2 recibos" in reply and "$1,598" in reply
    assert "solo el más antiguo (A-000001, $799)" in reply
    reply = await mp_wa.say("solo el más antiguo")
    assert "solo el más antiguo: A-000001 por $799" in reply
    reply = await mp_wa.say("oxxo")
    assert "Paga $799 en cualquier OXXO" in reply
    req = await session.scalar(select(PaymentRequest))
    assert req is not None and req.amount_cents == 79900


async def test_several_invoices_all_at_once_in_one_payment(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    _, _, sub, _ = await owing_member(session, invoices=2)
    reply = await mp_wa.say("quiero pagar con tarjeta")
    assert "$1,598" in reply and "A-000001, A-000002" in reply
    pref_id = next(iter(mp.sim.preferences))
    payment = mp.sim.card_payment_for(pref_id)
    assert await mp.settle(payment["id"]) == ["applied"]
    statuses = (await session.scalars(select(Invoice.status).order_by(Invoice.id))).all()
    assert statuses == ["paid", "paid"]
    await session.refresh(sub)
    assert sub.status == "active"
    assert await session.scalar(select(func.count()).select_from(Payment)) == 1


async def test_english(mp_wa: WhatsApp, session: AsyncSession) -> None:
    await owing_member(session, locale="en")
    reply = await mp_wa.say("how much do I owe?")
    assert "Your account at GoGym Test" in reply and "Open invoices" in reply
    reply = await mp_wa.say("I want to pay by bank transfer")
    assert "Send $799 by SPEI" in reply and "CLABE" in reply


async def test_provider_down_is_said_plainly(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    await owing_member(session)
    mp.sim.fail_next(500, times=5)
    reply = await mp_wa.say("puedo pagar en oxxo?")
    assert "No pude conectar con Mercado Pago" in reply
    assert await session.scalar(select(func.count()).select_from(PaymentRequest)) == 0


async def test_subscription_untouched_by_asking(mp_wa: WhatsApp, session: AsyncSession) -> None:
    _, _, sub, _ = await owing_member(session)
    await mp_wa.say("mi estado de cuenta")
    status = await session.scalar(select(Subscription.status).where(Subscription.id == sub.id))
    assert status == "past_due"
