"""An unknown number becomes a recorded prospect: name, plans, free trial day."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Subscription
from backend.checkins.codes import checkin_text, daily_code
from backend.conversations.models import Message
from backend.members.models import Member
from backend.types import utcnow
from tests.factories import standard_gym
from tests.whatsapp import WhatsApp

PROSPECT = "whatsapp:+5215500001111"


async def test_prospect_is_welcomed_named_offered_plans_and_trial(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, centro, *_ = await standard_gym(session)
    await session.commit()
    wa.phone = PROSPECT

    assert "¿Cómo te llamas?" in await wa.say("hola, info?")
    prospect = await session.scalar(select(Member).where(Member.phone == "+525500001111"))
    assert prospect is not None and prospect.status == "prospect"

    offer = await wa.say("me llamo paco hernández")
    assert "Paco" in offer and "$799" in offer and "$499" in offer and "prueba" in offer
    assert "Pase" not in offer  # the trial plan is not offered as a plan

    granted = await wa.say("sí")
    assert "11:59" in granted and "GoGym Centro" in granted
    await session.refresh(prospect)
    assert prospect.name == "Paco Hernández"
    trial = await session.scalar(select(Subscription).where(Subscription.member_id == prospect.id))
    assert trial is not None and trial.status == "trialing"

    code = checkin_text(
        "centro",
        daily_code(
            wa.settings.secret_key, centro.id, utcnow().astimezone(ZoneInfo(gym.timezone)).date()
        ),
    )
    assert "✅" in await wa.say(code)  # the trial pass lets them in today


async def test_prospect_declines_and_second_trial_is_refused(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await standard_gym(session)
    await session.commit()
    wa.phone = PROSPECT
    await wa.say("buenas")
    await wa.say("Sofía")
    assert "sin problema" in await wa.say("no gracias")
    hello_again = await wa.say("hola")
    assert "Sofía" in hello_again and "prueba" in hello_again
    assert "11:59" in await wa.say("va")
    await wa.say("hola")
    assert "Ya usaste" not in wa.history[-1]  # greeting no longer offers a trial


async def test_closed_enrollment_answers_politely_and_records_no_member(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, *_ = await standard_gym(session)
    gym.enrollment_open = False
    await session.commit()
    wa.phone = PROSPECT
    assert "no está recibiendo nuevos miembros" in await wa.say("hola quiero inscribirme")
    assert await session.scalar(select(Member).where(Member.phone == "+525500001111")) is None
    logged = (await session.scalars(select(Message))).all()
    assert [m.direction for m in logged] == ["in", "out"]


async def test_help_and_menu_always_work_mid_flow(wa: WhatsApp, session: AsyncSession) -> None:
    await standard_gym(session)
    await session.commit()
    wa.phone = PROSPECT
    await wa.say("hola")
    assert "puedo hacer" in await wa.say("menú")


async def test_a_new_number_gets_its_question_answered_before_the_name(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await standard_gym(session)
    await session.commit()
    wa.phone = PROSPECT

    prices = await wa.say("cuánto cuesta la mensualidad?")
    assert "$799" in prices and "¿Cómo te llamas?" not in prices
    assert "¿Cómo te llamas?" in await wa.say("hola")
    # Asked for a name, they ask something else: answered, not asked for the name again.
    hours = await wa.say("a qué hora abren?")
    assert "Hoy:" in hours and "llamas" not in hours
    assert "¿Cómo te llamas?" in await wa.say("buenas")
    assert "Paco" in await wa.say("me llamo Paco")
