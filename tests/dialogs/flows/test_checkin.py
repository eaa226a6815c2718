"""Check-in conversations through the real webhook route."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.checkins.codes import checkin_text, daily_code
from backend.checkins.models import CheckIn
from backend.members.models import AuditEntry, MemberEvent
from backend.types import utcnow
from tests.factories import make_invoice, make_member, make_subscription, standard_gym
from tests.whatsapp import WhatsApp, recorded

TZ = ZoneInfo("America/Mexico_City")


def today_code(wa: WhatsApp, location_id: int, slug: str) -> str:
    return checkin_text(
        slug, daily_code(wa.settings.secret_key, location_id, utcnow().astimezone(TZ).date())
    )


async def visits(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CheckIn)) or 0)


async def test_ya_llegue_asks_for_proof_then_code_checks_in(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()

    reply = await wa.say("ya llegué")
    assert "QR" in reply and "ubicación" in reply
    assert await visits(session) == 0

    reply = await wa.say(today_code(wa, centro.id, "centro"))
    assert "Ana" in reply and "GoGym Centro" in reply and "1 visita" in reply
    assert await visits(session) == 1
    kinds = set(await session.scalars(select(MemberEvent.kind)))
    assert "visit" in kinds
    assert await session.scalar(select(AuditEntry).where(AuditEntry.action == "access.checked_in"))


async def test_second_checkin_within_three_hours_is_refused_with_first_time(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, norte, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    await wa.say(today_code(wa, centro.id, "centro"))
    reply = await wa.say(today_code(wa, norte.id, "norte"))
    assert "Ya registraste tu entrada" in reply and "GoGym Centro" in reply
    assert await visits(session) == 1


async def test_wrong_or_stale_code_is_refused(wa: WhatsApp, session: AsyncSession) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    yesterday = utcnow().astimezone(TZ).date() - timedelta(days=1)
    stale = checkin_text("centro", daily_code(wa.settings.secret_key, centro.id, yesterday))
    assert "no es el de hoy" in await wa.say(stale)
    assert "no es el de hoy" in await wa.say("CHECKIN SUR 123456")
    assert await visits(session) == 0


async def test_location_pin_inside_radius_checks_in_and_far_pin_does_not(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, _, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    far = await wa.say("", Latitude="19.3000", Longitude="-99.2000", MessageType="location")
    assert "más cercana" in far and "km" in far
    assert await visits(session) == 0
    pin = recorded("whatsapp_location")
    near = await wa.say("", Latitude=pin["Latitude"], Longitude=pin["Longitude"])
    assert "GoGym Centro" in near and "✅" in near
    assert await visits(session) == 1


async def test_unpaid_membership_is_refused_with_amount_owed(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, _, basico = await standard_gym(session)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis Pérez")
    await make_subscription(session, luis, basico, status="suspended")
    await make_invoice(session, luis, 49900, number="A-000777")
    await session.commit()
    wa.phone = "whatsapp:+5215587654321"
    reply = await wa.say(today_code(wa, centro.id, "centro"))
    assert "$499" in reply and "A-000777" in reply
    assert await visits(session) == 0


async def test_during_the_dunning_grace_the_member_gets_in_and_is_reminded(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, _, basico = await standard_gym(session)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis Pérez")
    await make_subscription(session, luis, basico, status="past_due")
    await make_invoice(session, luis, 49900, number="A-000778", due_in_days=-2)
    await session.commit()
    wa.phone = "whatsapp:+5215587654321"
    reply = await wa.say(today_code(wa, centro.id, "centro"))
    assert "Registré tu entrada" in reply
    assert "pago pendiente de $499" in reply and "pagar" in reply
    assert await visits(session) == 1


async def test_expired_membership_is_refused_with_end_date(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium, days_left=-3)
    await session.commit()
    assert "venció" in await wa.say(today_code(wa, centro.id, "centro"))
    assert await visits(session) == 0


async def test_plan_not_covering_location_is_refused(wa: WhatsApp, session: AsyncSession) -> None:
    gym, _, norte, _, basico = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, basico)
    await session.commit()
    reply = await wa.say(today_code(wa, norte.id, "norte"))
    assert "no incluye" in reply and "GoGym Centro" in reply


async def test_trust_policy_checks_in_on_plain_text_and_counts_streak(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, premium, _ = await standard_gym(session)
    gym.checkin_policy = "trust"
    ana = await make_member(session, gym, home_location_id=centro.id)
    await make_subscription(session, ana, premium)
    now = utcnow()
    for weeks_ago in (1, 2, 3):
        session.add(
            CheckIn(
                gym_id=gym.id,
                member_id=ana.id,
                location_id=centro.id,
                method="code",
                checked_in_at=now - timedelta(weeks=weeks_ago),
            )
        )
    await session.commit()
    reply = await wa.say("ya llegue")
    assert "✅" in reply and "4 semanas seguidas" in reply


async def test_english_member_gets_english(wa: WhatsApp, session: AsyncSession) -> None:
    gym, _centro, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    await session.commit()
    reply = await wa.say("hi, I just arrived at the gym")
    assert "scan the QR" in reply


async def test_short_messages_switch_language_only_when_clear(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, _centro, _, premium, _ = await standard_gym(session)
    ana = await make_member(session, gym, locale="en")
    await make_subscription(session, ana, premium)
    await session.commit()
    assert "welcome" in await wa.say("gracias")  # one word: she keeps English
    assert "escanea el QR" in await wa.say("ya llegué")  # unmistakably Spanish
    assert "De nada" in await wa.say("thanks")  # and Spanish is hers now
    await session.refresh(ana)
    assert ana.locale == "es"
    assert "scan the QR" in await wa.say("I'm here")


async def test_plain_ya_llegue_is_refused_up_front_when_owing_or_already_in(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, _, premium, basico = await standard_gym(session)
    ana = await make_member(session, gym)
    await make_subscription(session, ana, premium)
    luis = await make_member(session, gym, phone="+525587654321", name="Luis Pérez")
    await make_subscription(session, luis, basico, status="suspended")
    await make_invoice(session, luis, 49900)
    await session.commit()
    await wa.say(today_code(wa, centro.id, "centro"))
    assert "Ya registraste" in await wa.say("ya llegué")
    wa.phone = "whatsapp:+5215587654321"
    assert "$499" in await wa.say("ya llegue")
