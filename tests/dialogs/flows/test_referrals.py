"""Referrals through the real signed WhatsApp webhook: a member gets their code and link,
a friend writes with the prefilled text, pays, and both are rewarded; and the unhappy
paths (unknown, expired, malformed, another gym's code, own code, a second code)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits, subscriptions
from backend.billing.invoices import InvoiceDraft, LineDraft, issue_invoice
from backend.billing.models import Plan
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.messaging.models import OutboxMessage
from backend.payments.service import record_cash_payment
from backend.referrals import rewards
from backend.referrals.models import Referral, ReferralCode, ReferralProgram, ReferralReward
from backend.types import utcnow
from tests.factories import (
    make_member,
    make_referral_program,
    make_second_gym,
    make_subscription,
    standard_gym,
)
from tests.mercadopago import MercadoPago
from tests.whatsapp import WhatsApp

FRIEND = "whatsapp:+5215511112222"
FRIEND_E164 = "+525511112222"
LINK = re.compile(r"https://wa\.me/\d+\?text=\S+")


async def referral_gym(session: AsyncSession, **program: object) -> tuple[Gym, Member, Plan]:
    """Ana, an active Premium member of a gym running "Trae a un amigo"."""
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await make_referral_program(session, gym, **program)
    await session.commit()
    return gym, ana, premium


def friend_of(wa: WhatsApp, phone: str = FRIEND) -> WhatsApp:
    return WhatsApp(wa.client, wa.settings, phone=phone)


async def get_code(wa: WhatsApp) -> tuple[str, str]:
    """Ana asks for her code: (the code, the prefilled text of her wa.me link)."""
    reply = await wa.say("mi código")
    code = re.search(r"\*([A-Z]+-\d{4})\*", reply)
    link = LINK.search(reply)
    assert code and link, reply
    prefill = parse_qs(urlparse(link.group(0)).query)["text"][0]
    return code.group(1), prefill


async def outbox_to(session: AsyncSession, member: Member) -> list[str]:
    rows = await session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.member_id == member.id)
    )
    return list(rows.all())


async def test_code_link_friend_redeems_pays_and_both_are_rewarded(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, ana, premium = await referral_gym(session)

    reply = await wa.say("quiero invitar a un amigo")
    assert "Tu código es *ANA-" in reply and "$200 de saldo a favor" in reply
    assert "50% de descuento en tu primer mes" in reply
    link = LINK.search(reply)
    assert link and link.group(0).startswith("https://wa.me/14155238886?text=")
    code, prefill = await get_code(wa)  # asking again gives the same code
    assert code in reply
    assert prefill == f"Hola, vengo de parte de Ana, mi código es {code}"
    assert re.fullmatch(r"ANA-[2-9]{4}", code)  # no 0/1 to mistake for O/I

    friend = friend_of(wa)
    welcome = await friend.say(prefill)
    assert "Bienvenido" in welcome and f"Registré el código *{code}* de Ana" in welcome
    assert "50% de descuento en tu primer mes" in welcome and "$249.50" in welcome
    assert welcome.rstrip().endswith("¿Cómo te llamas?")
    sofia = await session.scalar(select(Member).where(Member.phone == FRIEND_E164))
    assert sofia is not None and sofia.status == "prospect"
    referral = await session.scalar(select(Referral).where(Referral.referred_id == sofia.id))
    assert referral is not None and referral.status == "redeemed"
    assert referral.referrer_id == ana.id
    assert await credits.balance(session, gym.id, sofia.id) == 24950

    plans = await friend.say("me llamo Sofía Ruiz")
    assert "Sofía" in plans and "prueba" in plans
    assert "sin problema" in (await friend.say("no, gracias")).lower()

    # Sofía signs up for Premium at the front desk: the welcome credit is applied first.
    now = utcnow()
    await session.refresh(sofia)
    _, invoice = await subscriptions.start(
        session, gym=gym, member=sofia, plan=premium, actor="staff:1", now=now
    )
    assert invoice is not None
    assert invoice.credit_applied_cents == 24950 and invoice.amount_due_cents == 79900 - 24950
    await record_cash_payment(
        session,
        gym.id,
        invoice.id,
        invoice.amount_due_cents,
        actor="staff:1",
        now=now,
        reference="caja 1",
    )
    # What the `referral_check` job enqueued by `settle` does; run twice (re-delivery) and
    # the sweep on top: one reward.
    assert await rewards.process_member(session, sofia.id, now) == "rewarded"
    assert await rewards.process_member(session, sofia.id, now) == "rewarded"
    assert await rewards.sweep(session, now) == 0
    await session.commit()
    given = (
        await session.scalars(select(ReferralReward).where(ReferralReward.member_id == ana.id))
    ).all()
    assert [(r.kind, r.amount_cents, r.status) for r in given] == [("credit", 20000, "granted")]

    # Ana's next invoice shows the credit.
    renewal = await issue_invoice(
        session,
        gym.id,
        "A",
        InvoiceDraft(
            member_id=ana.id,
            reason="renewal",
            due_at=now + timedelta(days=1),
            lines=[LineDraft("plan", "Membresía Premium", 79900, 1, premium.id)],
        ),
        now,
    )
    assert renewal.credit_applied_cents == 20000 and renewal.amount_due_cents == 59900

    to_ana = await outbox_to(session, ana)
    to_sofia = await outbox_to(session, sofia)
    assert any("Sofía ya se inscribió" in m and "$200" in m for m in to_ana), to_ana
    assert any("Gracias por tu primer pago, Sofía" in m for m in to_sofia), to_sofia

    # Ana's stats now count Sofía.
    assert "Amigos inscritos con tu código: 1" in await wa.say("mi código")


async def test_typed_code_later_redeems_and_offers_the_trial(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await referral_gym(session)
    code, _ = await get_code(wa)
    friend = friend_of(wa)
    assert "¿Cómo te llamas?" in await friend.say("hola")
    await friend.say("Paco")
    reply = await friend.say(f"me pasaron el código {code.lower().replace('-', '')}")
    assert f"Registré el código *{code}* de Ana" in reply and "prueba" in reply
    assert "11:59" in await friend.say("sí")


async def test_redeem_without_code_asks_for_it(wa: WhatsApp, session: AsyncSession) -> None:
    await referral_gym(session)
    code, _ = await get_code(wa)
    friend = friend_of(wa)
    await friend.say("hola")
    await friend.say("Paco")
    assert "¿Cuál es el código" in await friend.say("tengo un código de un amigo")
    assert "Registré el código" in await friend.say(code)


async def test_english_member_gets_english_share_text(wa: WhatsApp, session: AsyncSession) -> None:
    await referral_gym(session)
    reply = await wa.say("hey, what's my referral code to invite a friend?")
    assert "Your code is *ANA-" in reply and "50% off your first month" in reply
    link = LINK.search(reply)
    assert link is not None
    prefill = parse_qs(urlparse(link.group(0)).query)["text"][0]
    assert re.fullmatch(r"Hi, Ana invited me, my code is ANA-\d{4}", prefill)
    friend = friend_of(wa)
    welcome = await friend.say(prefill)
    assert "Welcome" in welcome and "I registered Ana's code" in welcome


async def test_bad_codes_get_a_friendly_answer_and_attribute_nothing(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, ana, _ = await referral_gym(session)
    code, _ = await get_code(wa)
    # Another gym with its own member and code.
    other = await make_second_gym(session)
    await make_referral_program(session, other)
    await session.flush()
    other_member = await make_member(session, other, phone="+525599990000", name="Beto")
    session.add(
        ReferralCode(
            gym_id=other.id,
            program_id=(await _program_id(session, other.id)),
            member_id=other_member.id,
            code="BETO-2345",
            normalized="BETO2345",
        )
    )
    await session.commit()

    friend = friend_of(wa)
    unknown = await friend.say("Hola, vengo de parte de Luis, mi código es LUIS-9999")
    assert "No encontré el código *LUIS-9999*" in unknown and "¿Cómo te llamas?" in unknown
    await friend.say("Paco")
    assert "No encontré el código *BETO-2345*" in await friend.say("me pasaron el código BETO-2345")
    assert "¿Cuál es el código" in await friend.say("tengo un código de un amigo")
    assert "No vi un código" in await friend.say("es de mi primo jaja")
    assert "sin problema" in await friend.say("no, ya no lo tengo")
    assert await session.scalar(select(Referral.id)) is None

    # Expired code.
    row = await session.scalar(select(ReferralCode).where(ReferralCode.code == code))
    assert row is not None
    row.expires_at = utcnow() - timedelta(minutes=1)
    await session.commit()
    expired = await friend_of(wa, "whatsapp:+5215522223333").say(
        f"Hola, vengo de parte de Ana, mi código es {code}"
    )
    assert f"El código *{code}* ya venció" in expired
    assert await session.scalar(select(Referral.id)) is None

    # Ana's own code.
    row.expires_at = None
    await session.commit()
    assert "tu propio código" in await wa.say(f"me pasaron el código {code}")
    assert await session.scalar(select(Referral.id)) is None
    assert await credits.balance(session, gym.id, ana.id) == 0


async def _program_id(session: AsyncSession, gym_id: int) -> int:
    found = await session.scalar(select(ReferralProgram.id).where(ReferralProgram.gym_id == gym_id))
    assert found is not None
    return found


async def test_second_code_does_not_steal_the_first(wa: WhatsApp, session: AsyncSession) -> None:
    gym, _, premium = await referral_gym(session)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis Pérez")
    await make_subscription(session, luis, premium)
    await session.commit()
    ana_code, prefill = await get_code(wa)
    luis_wa = friend_of(wa, "whatsapp:+5215587654321")
    luis_code, _ = await get_code(luis_wa)

    friend = friend_of(wa)
    await friend.say(prefill)
    await friend.say("Sofía")
    second = await friend.say(f"me pasaron el código {luis_code}")
    assert f"Ya tienes registrado el código *{ana_code}*" in second
    referrals = (await session.scalars(select(Referral))).all()
    assert len(referrals) == 1 and referrals[0].code_id != 0
    assert (await session.get(ReferralCode, referrals[0].code_id)).code == ana_code  # type: ignore[union-attr]


async def test_member_without_active_plan_or_program(wa: WhatsApp, session: AsyncSession) -> None:
    gym, _, _, _, _ = await standard_gym(session)
    await make_member(session, gym)
    await session.commit()
    assert "no tiene un programa de referidos" in await wa.say("mi código")
    await make_referral_program(session, gym)
    await session.commit()
    assert "membresía activa" in await wa.say("quiero invitar a un amigo")


async def test_friend_pays_through_mercado_pago_and_the_referrer_is_rewarded(
    mp_wa: WhatsApp, mp: MercadoPago, session: AsyncSession
) -> None:
    """The whole loop on the production path: code → prefilled first message → card link →
    signed Mercado Pago notification → invoice settled → `referral_check` → both rewarded."""
    gym, ana, premium = await referral_gym(session)
    code, prefill = await get_code(mp_wa)
    friend = friend_of(mp_wa)
    assert f"Registré el código *{code}*" in await friend.say(prefill)
    await friend.say("me llamo Sofía Ruiz")
    await friend.say("no")
    sofia = await session.scalar(select(Member).where(Member.phone == FRIEND_E164))
    assert sofia is not None
    await subscriptions.start(
        session, gym=gym, member=sofia, plan=premium, actor="staff:1", now=utcnow()
    )
    await session.commit()

    await friend.say("quiero pagar")
    reply = await friend.say("1")
    link = re.search(r"/checkout/(\S+)", reply)
    assert link and "$549" in reply, reply  # $799 less the $249.50 welcome credit
    payment = mp.sim.card_payment_for(link.group(1))
    assert await mp.settle(payment["id"]) == ["applied"]
    # The same payment notified again is only noted: nothing is applied twice.
    assert await mp.settle(payment["id"]) == ["noted"]

    checks = [args for name, args, _ in mp.jobs.enqueued if name == "referral_check"]
    assert checks == [(sofia.id,)]  # enqueued once, by `settle`
    assert await rewards.process_member(session, sofia.id, utcnow()) == "rewarded"
    await session.commit()
    assert await credits.balance(session, gym.id, ana.id) == 20000
    assert any("Sofía ya se inscribió" in m for m in await outbox_to(session, ana))
