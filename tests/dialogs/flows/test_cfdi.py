"""'necesito factura' through the real signed Twilio webhook."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cfdi.models import MemberFiscalProfile
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.settings import Settings
from tests.factories import (
    make_fiscal_profile,
    make_member,
    make_member_fiscal,
    make_payment,
    standard_gym,
)
from tests.whatsapp import RecordingJobs, WhatsApp


async def _setup(
    session: AsyncSession, settings: Settings, with_profile: bool = True
) -> tuple[Gym, Member]:
    gym, *_ = await standard_gym(session)
    member = await make_member(session, gym)
    if with_profile:
        await make_fiscal_profile(session, settings, gym)
    return gym, member


async def test_capture_fiscal_data_and_invoice_this_months_payment(
    wa: WhatsApp, session: AsyncSession, settings: Settings, app_client: object
) -> None:
    _gym, member = await _setup(session, settings)
    payment = await make_payment(session, member, 79900, "cash")
    await session.commit()
    reply = await wa.say("necesito factura")
    assert "RFC" in reply
    reply = await wa.say("GOMA850101AB1")
    assert "validación del SAT" in reply  # bad check digit: says what to fix
    reply = await wa.say("ABC")
    assert "formato" in reply
    reply = await wa.say("xiqb891116qe4")
    assert "nombre completo" in reply
    reply = await wa.say("Ana López Pérez")
    assert "régimen fiscal" in reply and "1." in reply
    reply = await wa.say("601")  # a company régimen for a persona física
    assert "no es para persona física" in reply
    reply = await wa.say("1")  # 612 Actividades Empresariales y Profesionales
    assert "código postal" in reply
    reply = await wa.say("00001")
    assert "no existe en el catálogo del SAT" in reply
    reply = await wa.say("06600")
    assert "1. Gastos en general" in reply and "G03" not in reply.split("\n")[1]
    reply = await wa.say("2")
    assert "XIQB891116QE4" in reply and "ANA LOPEZ PEREZ" in reply and "S01" in reply
    reply = await wa.say("sí")
    assert "Guardado" in reply and "$799" in reply and "timbrando" in reply
    saved = await session.scalar(select(MemberFiscalProfile))
    assert saved is not None and saved.legal_name == "ANA LOPEZ PEREZ" and saved.uso_cfdi == "S01"
    jobs = app_client._transport.app.state.runtime.jobs  # type: ignore[attr-defined]
    assert isinstance(jobs, RecordingJobs)
    assert ("issue_cfdi_for_payment", (payment.id,), f"cfdi:issue:{payment.id}") in jobs.enqueued


async def test_uso_not_valid_for_the_regimen(
    wa: WhatsApp, session: AsyncSession, settings: Settings
) -> None:
    await _setup(session, settings)
    await session.commit()
    await wa.say("necesito factura")
    await wa.say("XIQB891116QE4")
    await wa.say("Ana López")
    await wa.say("605")  # sueldos y salarios: only S01 applies
    reply = await wa.say("06600")
    assert "Uso: S01" in reply and "Confírmame" in reply  # G03 is not offered to 605


async def test_company_name_loses_its_suffix_and_uso_checked(
    wa: WhatsApp, session: AsyncSession, settings: Settings
) -> None:
    await _setup(session, settings)
    await session.commit()
    await wa.say("necesito factura para mi empresa")
    reply = await wa.say("EKU9003173C9")
    assert "razón social" in reply
    await wa.say("Escuela Kemper Urgate, S.A. de C.V.")
    await wa.say("1")  # 601
    await wa.say("06000")
    reply = await wa.say("CN01")  # nómina: not for régimen 601
    assert "no aplica para el régimen 601" in reply
    reply = await wa.say("1")
    assert "ESCUELA KEMPER URGATE\n" in reply and "SA DE CV" not in reply


async def test_change_my_fiscal_data(
    wa: WhatsApp, session: AsyncSession, settings: Settings
) -> None:
    _gym, member = await _setup(session, settings)
    await make_member_fiscal(session, member)
    await session.commit()
    reply = await wa.say("necesito factura")
    assert "No veo pagos de este mes" in reply
    reply = await wa.say("quiero cambiar mis datos fiscales")
    assert "actualizamos tus datos fiscales" in reply


async def test_gym_without_csd_says_so(
    wa: WhatsApp, session: AsyncSession, settings: Settings
) -> None:
    _gym, member = await _setup(session, settings, with_profile=False)
    await make_member_fiscal(session, member)
    await session.commit()
    reply = await wa.say("necesito factura")
    assert "recepción" in reply


async def test_another_request_or_stop_leaves_the_rfc_question(
    wa: WhatsApp, session: AsyncSession, settings: Settings
) -> None:
    _gym, member = await _setup(session, settings)
    await make_payment(session, member, 79900, "cash")
    await session.commit()
    assert "RFC" in await wa.say("necesito factura")
    reply = await wa.say("aviso de privacidad")
    assert "RFC" not in reply and "privacidad" in reply.lower()
    assert "RFC" in await wa.say("necesito factura")
    reply = await wa.say("STOP")  # consent keywords win over any question in progress
    assert "RFC" not in reply and "promociones" in reply  # in Ana's Spanish, too
