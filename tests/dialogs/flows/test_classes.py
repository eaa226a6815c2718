"""Class conversations through the real webhook route: the timetable, booking with a
confirmation, the waitlist and its promotion, cancelling, and the unhappy paths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan, Subscription
from backend.classes.models import ClassBooking, ClassSession, ClassType
from backend.gyms.models import Gym, Location
from backend.messaging.models import OutboxMessage
from backend.types import utcnow
from tests.factories import (
    make_class_session,
    make_class_type,
    make_member,
    make_subscription,
    standard_gym,
)
from tests.whatsapp import WhatsApp

TZ = ZoneInfo("America/Mexico_City")
LUIS = "whatsapp:+5215587654321"


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = utcnow().astimezone(TZ).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


@dataclass
class ClassGym:
    gym: Gym
    centro: Location
    premium: Plan
    spinning: ClassType
    spin: ClassSession
    sub: Subscription


async def class_gym(session: AsyncSession, capacity: int = 10) -> ClassGym:
    """Spinning tomorrow 7:00 at Centro and Yoga tomorrow 19:00 at Norte; Ana on Premium
    with 8 class credits."""
    gym, centro, norte, premium, _ = await standard_gym(session)
    spinning = await make_class_type(session, gym, "Spinning", capacity=capacity)
    yoga = await make_class_type(session, gym, "Yoga", duration_minutes=60)
    spin = await make_class_session(session, spinning, centro, tomorrow_at(7))
    await make_class_session(session, yoga, norte, tomorrow_at(19), instructor_name="Pau")
    ana = await make_member(session, gym, home_location_id=centro.id)
    sub = await make_subscription(session, ana, premium)
    sub.class_credits_remaining = 8
    await session.commit()
    return ClassGym(gym, centro, premium, spinning, spin, sub)


async def bookings(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(ClassBooking.member_id, ClassBooking.status))
    return dict(rows.all())


async def test_whats_on_tomorrow_lists_classes_with_instructor_and_seats(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    reply = await wa.say("qué clases hay mañana")
    assert "Spinning" in reply and "Yoga" in reply
    assert "7:00 a.m." in reply and "7:00 p.m." in reply
    assert "con Karla" in reply and "con Pau" in reply and "10 lugares" in reply
    assert "resérvame" in reply


async def test_schedule_of_one_class_tolerates_typos(wa: WhatsApp, session: AsyncSession) -> None:
    await class_gym(session)
    reply = await wa.say("horario de spining")
    assert "Spinning" in reply and "Yoga" not in reply
    reply = await wa.say("a qué hora es yoga mañana")
    assert "Yoga" in reply and "7:00 p.m." in reply and "Spinning" not in reply


async def test_a_class_the_gym_does_not_offer(wa: WhatsApp, session: AsyncSession) -> None:
    await class_gym(session)
    reply = await wa.say("hay pilates mañana?")
    assert "No tenemos clases de pilates" in reply and "Spinning y Yoga" in reply


async def test_book_in_plain_words_with_confirmation(wa: WhatsApp, session: AsyncSession) -> None:
    g = await class_gym(session)
    reply = await wa.say("resérvame spinning mañana a las 7")
    assert reply == "¿Te aparto lugar en *Spinning* mañana 7:00 a.m. en GoGym Centro? (sí/no)"
    assert await bookings(session) == {}

    reply = await wa.say("sí")
    assert "¡Listo!" in reply and "Te quedan 7 clases" in reply
    assert "cancela antes de mañana 5:00 a.m." in reply
    [status] = (await bookings(session)).values()
    assert status == "booked"
    await session.refresh(g.sub)
    assert g.sub.class_credits_remaining == 7

    reply = await wa.say("mis clases")
    assert "Spinning" in reply and "mañana 7:00 a.m." in reply
    reply = await wa.say("resérvame spinning mañana a las 7")
    assert "Ya tienes lugar" in reply


async def test_a_yes_with_thanks_books_and_a_no_with_thanks_does_not(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    await wa.say("resérvame spinning mañana a las 7")
    assert "no aparté nada" in await wa.say("no, muchas gracias")
    assert await bookings(session) == {}
    await wa.say("resérvame spinning mañana a las 7")
    assert "¡Listo!" in await wa.say("va, gracias!")  # alone, it reads as thanks
    assert list((await bookings(session)).values()) == ["booked"]


async def test_saying_no_books_nothing_and_nonsense_gets_a_way_out(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    await wa.say("resérvame spinning mañana a las 7")
    assert "no aparté nada" in await wa.say("no")
    assert await bookings(session) == {}

    await wa.say("resérvame spinning mañana a las 7")
    assert "¿Sí o no?" in await wa.say("asdfgh qwerty")
    assert "menú" in await wa.say("zzzz")
    assert await bookings(session) == {}
    await wa.say("resérvame spinning mañana a las 7")
    assert "puedo hacer" in await wa.say("menú")
    assert await bookings(session) == {}


async def test_thanks_while_picking_from_the_list_books_nothing(
    wa: WhatsApp, session: AsyncSession
) -> None:
    cg = await class_gym(session)
    await make_class_session(session, cg.spinning, cg.centro, tomorrow_at(18))
    await session.commit()
    assert "Responde con el número" in await wa.say("quiero reservar spinning mañana")
    assert "no aparté nada" in await wa.say("gracias")
    assert await bookings(session) == {}


async def test_another_request_mid_booking_is_answered_not_re_asked(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    assert "¿Te aparto lugar" in await wa.say("resérvame spinning mañana a las 7")
    reply = await wa.say("qué horario tienen el sábado?")
    assert "¿Sí o no?" not in reply and "GoGym" in reply
    assert await bookings(session) == {}


async def test_full_class_waitlist_then_promotion_when_someone_cancels(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await class_gym(session, capacity=1)
    luis = await make_member(session, g.gym, phone="+525587654321", name="Luis Pérez")
    await make_subscription(session, luis, g.premium)
    await session.commit()

    wa.phone = LUIS
    await wa.say("resérvame spinning mañana a las 7")
    assert "¡Listo!" in await wa.say("sí")

    wa.phone = "whatsapp:+5215512345678"
    reply = await wa.say("quiero spinning mañana a las 7")
    assert "está llena" in reply and "lista de espera" in reply
    reply = await wa.say("sí")
    assert "lista de espera" in reply and "#1" in reply

    wa.phone = LUIS
    reply = await wa.say("cancela mi clase")
    assert "¿Cancelo tu lugar en *Spinning*" in reply
    reply = await wa.say("sí")
    assert "cancelé tu lugar" in reply  # unlimited plan: no credit to return

    statuses = await bookings(session)
    assert sorted(statuses.values()) == ["booked", "canceled"]
    told = (await session.scalars(select(OutboxMessage))).all()
    assert len(told) == 1 and "ya estás dentro de *Spinning*" in told[0].body
    assert told[0].to_address == "whatsapp:+5215512345678"


async def test_two_classes_at_the_same_time_are_refused(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await class_gym(session)
    box = await make_class_type(session, g.gym, "Box", duration_minutes=60)
    await make_class_session(session, box, g.centro, tomorrow_at(7, 15))
    await session.commit()
    await wa.say("resérvame spinning mañana a las 7")
    await wa.say("sí")
    reply = await wa.say("resérvame box mañana a las 7:15")
    assert "Ya tienes *Spinning*" in reply and "misma hora" in reply


async def test_late_cancellation_warns_that_the_class_counts(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await class_gym(session)
    soon = await make_class_session(session, g.spinning, g.centro, utcnow() + timedelta(minutes=90))
    await session.commit()
    reply = await wa.say("quiero reservar spinning")
    assert "¿Cuál te aparto?" in reply
    reply = await wa.say("1")
    assert "¿Te aparto lugar en *Spinning*" in reply
    assert "¡Listo!" in await wa.say("sí")
    booked = await session.scalar(select(ClassBooking))
    assert booked is not None and booked.session_id == soon.id

    reply = await wa.say("ya no puedo ir a mi clase de spinning")
    assert "la clase sí se descuenta" in reply
    assert "sí se descontó" in await wa.say("sí")
    await session.refresh(g.sub)
    assert g.sub.class_credits_remaining == 7


async def test_without_membership_booking_is_explained(wa: WhatsApp, session: AsyncSession) -> None:
    g = await class_gym(session)
    g.sub.status = "canceled"
    await session.commit()
    reply = await wa.say("resérvame spinning mañana a las 7")
    assert "membresía activa" in reply
    assert await bookings(session) == {}


async def test_english_booking(wa: WhatsApp, session: AsyncSession) -> None:
    await class_gym(session)
    reply = await wa.say("book spinning tomorrow at 7 please")
    assert reply.startswith("Shall I book you a spot in *Spinning* tomorrow at 7:00 AM")
    assert "Done!" in await wa.say("yes")


async def test_an_hour_without_am_pm_finds_the_evening_class(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    reply = await wa.say("resérvame yoga mañana a las 7")
    assert reply == "¿Te aparto lugar en *Yoga* mañana 7:00 p.m. en GoGym Norte? (sí/no)"
    assert "¡Listo!" in await wa.say("sí")


async def test_cancelling_the_membership_is_not_taken_for_a_class(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await class_gym(session)
    await wa.say("resérvame spinning mañana a las 7")
    await wa.say("sí")
    reply = await wa.say("quiero cancelar mi membresía")
    assert "Spinning" not in reply
    assert list((await bookings(session)).values()) == ["booked"]
