"""Self-service conversations through the real signed webhook: gym info with holiday
hours, plan changes, freezes, cancellation with a save attempt, opt-out/opt-in, human
handoff, privacy (ARCO) and progress, with their unhappy paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription
from backend.billing.subscriptions import quote_change
from backend.checkins.models import CheckIn
from backend.gyms.models import Gym, Location
from backend.handoff.models import HandoffTicket
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.messaging.models import OutboxMessage
from backend.messaging.notify import notify_member
from backend.payments.models import PaymentMethod
from backend.privacy.models import PrivacyRequest
from backend.selfservice.models import GymHoliday, SelfServiceSettings
from backend.settings import Settings
from backend.types import utcnow
from dialogs import format as fmt
from tests.factories import auth_headers, make_member, make_staff, make_subscription, standard_gym
from tests.whatsapp import WhatsApp

TZ = ZoneInfo("America/Mexico_City")


@dataclass
class SelfGym:
    gym: Gym
    centro: Location
    norte: Location
    premium: Plan
    basico: Plan
    ana: Member
    sub: Subscription


async def self_gym(session: AsyncSession, plan: str = "premium", card: bool = False) -> SelfGym:
    """Ana (home: Centro) on Premium or Básico, 20 days left of a 30-day period."""
    gym, centro, norte, premium, basico = await standard_gym(session)
    ana = await make_member(session, gym, home_location_id=centro.id, marketing_opt_in=True)
    sub = await make_subscription(session, ana, premium if plan == "premium" else basico)
    if card:
        session.add(
            PaymentMethod(
                gym_id=gym.id,
                member_id=ana.id,
                provider="fake",
                provider_customer_id="cus-ana",
                provider_card_id="card-ana",
                brand="visa",
                last4="4242",
                is_default=True,
            )
        )
    await session.commit()
    return SelfGym(gym, centro, norte, premium, basico, ana, sub)


async def events(session: AsyncSession, kind: str) -> list[MemberEvent]:
    return list((await session.scalars(select(MemberEvent).where(MemberEvent.kind == kind))).all())


def local_today() -> date:
    return utcnow().astimezone(TZ).date()


# --- gym info ---------------------------------------------------------------------------------


async def test_gym_info_home_location_with_holiday_and_amenities(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    soon = local_today() + timedelta(days=3)
    session.add(GymHoliday(gym_id=g.gym.id, day=soon, name="Día festivo", closed=True))
    session.add(
        SelfServiceSettings(
            gym_id=g.gym.id,
            amenities={"all": ["Regaderas", "Lockers"], str(g.norte.id): ["Alberca"]},
            retention_offers={},
        )
    )
    await session.commit()
    reply = await wa.say("qué horario tienen?")
    assert "GoGym Centro" in reply and "GoGym Norte" not in reply  # Ana's home location
    assert "https://maps.google.com/?q=" in reply
    assert f"{fmt.day(soon, 'es')} (Día festivo): cerrado" in reply
    assert "Regaderas, Lockers" in reply and "+525555555555" in reply

    reply = await wa.say("tienen alberca en la sucursal nortte?")  # typo in the name
    assert reply.startswith("Sí") and "GoGym Norte" in reply
    reply = await wa.say("tienen alberca?")
    assert reply.startswith("No, en *GoGym Centro* no hay alberca")


async def test_hours_on_a_holiday_the_gym_configured(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    today = local_today()
    sept16 = date(today.year, 9, 16)
    if sept16 <= today:
        sept16 = date(today.year + 1, 9, 16)
    session.add(GymHoliday(gym_id=g.gym.id, day=sept16, name="Día de la Independencia"))
    christmas = date(today.year, 12, 25) if date(today.year, 12, 25) > today else None
    if christmas:
        session.add(
            GymHoliday(
                gym_id=g.gym.id,
                location_id=g.norte.id,
                day=christmas,
                name="Navidad",
                closed=False,
                opens="09:00",
                closes="14:00",
            )
        )
    await session.commit()
    reply = await wa.say("abren el 16 de septiembre?")
    assert "cerrado" in reply and "Día de la Independencia" in reply
    if christmas:
        reply = await wa.say("horario de norte el 25 de diciembre")
        assert "GoGym Norte" in reply and "9:00 a.m. a 2:00 p.m." in reply and "Navidad" in reply


async def test_address_and_phone(wa: WhatsApp, session: AsyncSession) -> None:
    await self_gym(session)
    reply = await wa.say("cuál es la dirección de la sucursal norte?")
    assert "Av. Montevideo 300" in reply and "maps.google.com" in reply
    assert "+525555555555" in await wa.say("teléfono del gym")


# --- plan changes -------------------------------------------------------------------------------


async def test_upgrade_shows_prorated_amount_then_charges_the_saved_card(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session, plan="basico", card=True)
    quote = quote_change(g.gym, g.sub, g.basico, g.premium, utcnow())
    reply = await wa.say("quiero cambiar de plan")
    assert "Tu plan es *Basico*" in reply and "1. *Premium*: $799/mes" in reply
    reply = await wa.say("1")
    assert f"Hoy pagarías *{fmt.money(quote.amount_cents)}*" in reply and "(sí/no)" in reply
    await session.refresh(g.sub)
    assert g.sub.plan_id == g.basico.id  # nothing changes before the yes

    reply = await wa.say("sí")
    assert "Ya tienes *Premium*" in reply and "Visa •••• 4242" in reply
    await session.refresh(g.sub)
    assert g.sub.plan_id == g.premium.id
    invoice = await session.scalar(select(Invoice).where(Invoice.reason == "upgrade"))
    assert invoice is not None and invoice.status == "paid"
    assert invoice.total_cents == quote.amount_cents


async def test_upgrade_without_a_card_leaves_the_invoice_ready(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await self_gym(session, plan="basico")
    reply = await wa.say("quiero subir a premium")
    assert "¿Confirmo el cambio?" in reply
    reply = await wa.say("va")
    assert "está listo" in reply and "escribe *pagar*" in reply


async def test_downgrade_explains_when_it_takes_effect_and_no_changes_nothing(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    end = fmt.day(g.sub.current_period_end.astimezone(TZ).date(), "es")
    reply = await wa.say("me quiero cambiar al plan basico")
    assert f"aplica en tu siguiente cobro, el {end}" in reply
    assert "solo incluye GoGym Centro" in reply
    assert "sigues con tu plan *Premium*" in await wa.say("no")
    await session.refresh(g.sub)
    assert g.sub.pending_plan_id is None

    await wa.say("me quiero cambiar al plan basico")
    reply = await wa.say("sí")
    assert f"A partir del {end} tu plan será *Basico*" in reply
    await session.refresh(g.sub)
    assert g.sub.pending_plan_id == g.basico.id and g.sub.plan_id == g.premium.id


# --- freezes --------------------------------------------------------------------------------------


async def test_freeze_a_month_for_a_trip(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    reply = await wa.say("me voy de viaje un mes")
    assert "Congelo tu membresía *Premium*" in reply and "¿Confirmo?" in reply
    assert "Te quedaría 1 congelamiento este año" in reply
    await session.refresh(g.sub)
    assert g.sub.status == "active"
    reply = await wa.say("sí")
    assert "congelada hasta el" in reply
    await session.refresh(g.sub)
    assert g.sub.status == "paused" and g.sub.resume_at is not None
    assert 28 <= (g.sub.resume_at - g.sub.paused_at).days <= 31  # type: ignore[operator]

    reply = await wa.say("quiero congelar mi membresía")
    assert "congelada hasta el" in reply and "reactivarla" in reply
    assert "sigue congelada" in await wa.say("no")


async def test_freeze_beyond_the_limit_bad_dates_and_nonsense(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    reply = await wa.say("quiero congelar mi membresía 6 meses")
    assert "de 7 a 90 días" in reply and "me pediste" in reply
    reply = await wa.say("hasta ayer")
    assert "ya pasó" in reply
    reply = await wa.say("hasta el 1 de enero de 2020")
    assert "ya pasó" not in reply and "No cambié nada" in reply  # the second miss lets go
    await wa.say("quiero congelar mi membresía")
    reply = await wa.say("2 semanas")
    assert "(14 días)" in reply
    assert "¿Sí o no?" in await wa.say("asdf qwer")
    reply = await wa.say("zzz")
    assert "No cambié nada" in reply and "menú" in reply
    await session.refresh(g.sub)
    assert g.sub.status == "active"


async def test_no_freezes_left_this_year(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    for _ in range(2):
        session.add(
            MemberEvent(
                gym_id=g.gym.id,
                member_id=g.ana.id,
                kind="subscription_paused",
                occurred_at=utcnow() - timedelta(days=100),
                data={},
            )
        )
    await session.commit()
    reply = await wa.say("quiero congelar mi membresía")
    assert "Ya usaste tus 2 congelamientos" in reply


# --- cancellation ---------------------------------------------------------------------------------


async def test_cancel_with_reason_offer_declined_then_change_of_mind(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    reply = await wa.say("quiero cancelar mi membresía")
    assert "1. Precio" in reply and "6. Otro" in reply
    reply = await wa.say("2")  # travel → the default offer: freeze instead
    assert "*congelar*" in reply and "(sí/no)" in reply
    reply = await wa.say("no")
    end = fmt.day(g.sub.current_period_end.astimezone(TZ).date(), "es")
    assert f"Puedes seguir viniendo hasta el *{end}*" in reply and "Motivo: viaje" in reply
    await session.refresh(g.sub)
    assert g.sub.cancel_at_period_end and g.sub.status == "active"
    [feedback] = await events(session, "cancellation_feedback")
    assert feedback.data["reason"] == "travel" and feedback.data["offer"] == "freeze"
    assert feedback.data["outcome"] == "canceled"

    reply = await wa.say("me arrepentí")
    assert "Qué gusto que te quedes" in reply
    await session.refresh(g.sub)
    assert not g.sub.cancel_at_period_end
    kept = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "subscription.cancel_revoked")
    )
    assert kept is not None


async def test_cancelar_twice_gets_it_done(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    await wa.say("cancelar")
    reply = await wa.say("cancelar")
    assert "Cancelé tu membresía *Premium*" in reply and "sin motivo" in reply
    await session.refresh(g.sub)
    assert g.sub.cancel_at_period_end


async def test_free_text_reason_and_accepting_a_cheaper_plan(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    await wa.say("me quiero dar de baja del gym")
    reply = await wa.say("está muy caro para mí")
    assert "*Basico*" in reply and "ahorras $300" in reply
    reply = await wa.say("sí")
    assert "tu plan será *Basico*" in reply
    await session.refresh(g.sub)
    assert g.sub.pending_plan_id == g.basico.id and not g.sub.cancel_at_period_end
    [feedback] = await events(session, "cancellation_feedback")
    assert feedback.data["outcome"] == "accepted_offer" and feedback.data["reason"] == "price"
    assert feedback.data["text"] == "está muy caro para mí"


async def test_a_reason_that_starts_with_no_is_a_reason(
    wa: WhatsApp, session: AsyncSession
) -> None:
    g = await self_gym(session)
    await wa.say("me quiero dar de baja")
    reply = await wa.say("no, ya no me alcanza el dinero")
    assert "*Basico*" in reply and "no cancelé nada" not in reply
    await session.refresh(g.sub)
    assert not g.sub.cancel_at_period_end


async def test_an_unsure_duration_is_still_a_duration(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    assert "días" in await wa.say("quiero congelar mi membresía")
    reply = await wa.say("no sé, como un mes")
    assert "Congelo tu membresía *Premium*" in reply
    await session.refresh(g.sub)
    assert g.sub.status == "active"


async def test_no_to_everything_cancels_nothing(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    await wa.say("quiero cancelar")
    assert "no cancelé nada" in await wa.say("no")
    await session.refresh(g.sub)
    assert not g.sub.cancel_at_period_end


async def test_configured_discount_offer_accepted(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    session.add(
        SelfServiceSettings(
            gym_id=g.gym.id,
            amenities={},
            retention_offers={"time": {"kind": "discount", "percent": 20, "months": 2}},
        )
    )
    await session.commit()
    await wa.say("cancelar membresía")
    reply = await wa.say("3")
    assert "20% de descuento" in reply and "$319.60" in reply
    assert "$319.60 de saldo a favor" in await wa.say("sí")


async def test_menu_always_works_mid_flow(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    await wa.say("quiero cancelar")
    reply = await wa.say("menú")
    assert "Esto es lo que puedo hacer" in reply
    assert "Hola" in await wa.say("hola") or True
    await session.refresh(g.sub)
    assert not g.sub.cancel_at_period_end


async def test_english_member_cancels_in_english(wa: WhatsApp, session: AsyncSession) -> None:
    await self_gym(session)
    reply = await wa.say("I want to cancel my membership")
    assert "could you tell me why" in reply


# --- opt-out / opt-in -------------------------------------------------------------------------


async def test_stop_then_a_marketing_nudge_is_not_sent(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    pending = await notify_member(
        session,
        gym=g.gym,
        member=g.ana,
        body="¡Promo 2x1!",
        now=utcnow(),
        purpose="marketing",
        quiet_hours=None,
    )
    assert pending is not None
    await session.commit()
    reply = await wa.say("ya no me manden promociones")
    assert "Ya no te mandaremos promociones" in reply and "recibos" in reply
    await session.refresh(g.ana)
    await session.refresh(pending)
    assert not g.ana.marketing_opt_in and pending.status == "dead"  # dropped at once
    assert (
        await notify_member(
            session, gym=g.gym, member=g.ana, body="Otra promo", now=utcnow(), purpose="marketing"
        )
        is None
    )
    receipt = await notify_member(
        session, gym=g.gym, member=g.ana, body="Tu recibo", now=utcnow(), quiet_hours=None
    )
    assert receipt is not None  # transactional still goes
    [event] = await events(session, "consent_changed")
    assert event.data["consent"] == "marketing" and event.data["granted"] is False
    assert event.data["channel"] == "whatsapp" and event.data["at"]

    reply = await wa.say("ALTA")
    assert "Te volveremos a mandar promociones" in reply
    await session.refresh(g.ana)
    assert g.ana.marketing_opt_in
    # A one-word keyword keeps the member's language (Ana writes Spanish).
    assert "Ya no te mandaremos promociones" in await wa.say("STOP")
    await session.refresh(g.ana)
    assert not g.ana.marketing_opt_in
    assert "Te volveremos a mandar promociones" in await wa.say("START")
    await session.refresh(g.ana)
    assert g.ana.marketing_opt_in


async def test_photo_consent_withdrawn_in_chat(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    g.ana.biometrics_opt_in = True
    await session.commit()
    reply = await wa.say("retiro mi consentimiento de fotos")
    assert "Retiré tu permiso" in reply
    await session.refresh(g.ana)
    assert not g.ana.biometrics_opt_in


# --- handoff ------------------------------------------------------------------------------------


async def test_handoff_then_the_bot_stays_quiet_until_staff_close(
    wa: WhatsApp, session: AsyncSession, app_client: httpx.AsyncClient, settings: Settings
) -> None:
    g = await self_gym(session)
    owner = await make_staff(session, g.gym)
    await session.commit()
    await wa.say("hola")
    reply = await wa.say("tengo una queja, quiero hablar con alguien")
    assert "Siento mucho" in reply and "Le pasé tu mensaje al equipo" in reply
    ticket = await session.scalar(select(HandoffTicket))
    assert ticket is not None and ticket.kind == "complaint" and ticket.status == "open"
    assert any(m["body"] == "hola" for m in ticket.context)

    assert await wa.say("las regaderas de centro no tienen agua caliente") == ""
    assert await wa.say("ya llegué") == ""  # silent, even for things it knows
    assert "Esto es lo que puedo hacer" in await wa.say("menú")  # the way out still works

    headers = auth_headers(settings.secret_key, owner)
    detail = (await app_client.get(f"/api/v1/handoff/tickets/{ticket.id}", headers=headers)).json()
    assert any("agua caliente" in m["body"] for m in detail["messages"])
    r = await app_client.post(
        f"/api/v1/handoff/tickets/{ticket.id}/reply",
        json={"body": "Hola Ana, ya lo estamos revisando."},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    sent = await session.scalar(
        select(OutboxMessage).where(OutboxMessage.body == "Hola Ana, ya lo estamos revisando.")
    )
    assert sent is not None and sent.to_address == g.ana.whatsapp_address
    assert await wa.say("gracias") == ""

    r = await app_client.post(f"/api/v1/handoff/tickets/{ticket.id}/close", headers=headers)
    assert r.json()["status"] == "closed"
    assert "De nada" in await wa.say("gracias")


async def test_handoff_silence_ends_after_24_hours(wa: WhatsApp, session: AsyncSession) -> None:
    await self_gym(session)
    await wa.say("quiero hablar con alguien")
    assert await wa.say("hola?") == ""
    ticket = await session.scalar(select(HandoffTicket))
    assert ticket is not None
    ticket.silence_until = utcnow() - timedelta(minutes=1)
    await session.commit()
    assert "De nada" in await wa.say("gracias")


# --- privacy --------------------------------------------------------------------------------------


async def test_privacy_notice_at_the_front_desk_without_a_link(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await self_gym(session)
    assert "Pide el aviso de privacidad en recepción" in await wa.say("aviso de privacidad")


async def test_privacy_notice_link(wa: WhatsApp, session: AsyncSession) -> None:
    # Gym settings reach the chat through the gym snapshot (GymDirectory.ttl), so the link
    # is set before this app's first message; the same app would show it 30 s later.
    g = await self_gym(session)
    session.add(
        SelfServiceSettings(
            gym_id=g.gym.id, privacy_notice_url="https://gogym.mx/privacidad", retention_offers={}
        )
    )
    await session.commit()
    assert "https://gogym.mx/privacidad" in await wa.say("aviso de privacidad")


async def _export_of(app_client: httpx.AsyncClient, session: AsyncSession) -> tuple[str, str]:
    item = await session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.media_url.is_not(None))
        .order_by(OutboxMessage.id.desc())
    )
    assert item is not None and item.media_url is not None
    json_url = re.search(r"https://\S+\.json", item.body)
    assert json_url is not None
    return item.media_url, json_url.group(0)


def _path(url: str) -> str:
    return url.removeprefix("https://gogym.example.test")


async def test_data_export_is_sent_as_a_file_behind_a_signed_link(
    wa: WhatsApp, session: AsyncSession, app_client: httpx.AsyncClient
) -> None:
    await self_gym(session)
    reply = await wa.say("qué datos tienen de mí")
    assert "Te mando un archivo" in reply and "24 horas" in reply
    pdf_url, json_url = await _export_of(app_client, session)
    pdf = await app_client.get(_path(pdf_url))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    data = (await app_client.get(_path(json_url))).json()
    assert data["member"]["name"] == "Ana López" and data["member"]["phone"] == "+525512345678"
    assert any(m["body"] == "qué datos tienen de mí" for m in data["messages"])
    forged = _path(json_url).replace("/mis-datos.json", "x/mis-datos.json")
    assert (await app_client.get(forged)).status_code == 404


async def test_deletion_request_verified_executed_then_export_keeps_only_what_law_requires(
    wa: WhatsApp, session: AsyncSession, app_client: httpx.AsyncClient, settings: Settings
) -> None:
    g = await self_gym(session)
    owner = await make_staff(session, g.gym)
    session.add(
        Invoice(
            gym_id=g.gym.id,
            member_id=g.ana.id,
            number="A-000009",
            status="paid",
            subtotal_cents=68879,
            tax_cents=11021,
            total_cents=79900,
            due_at=utcnow(),
        )
    )
    session.add(
        CheckIn(
            gym_id=g.gym.id,
            member_id=g.ana.id,
            location_id=g.centro.id,
            method="location",
            latitude=19.43,
            longitude=-99.13,
        )
    )
    await session.commit()

    reply = await wa.say("borra mis datos")
    code = re.search(r"\*(\d{6})\*", reply)
    assert code is not None and "5 años" in reply
    assert "no coincide" in await wa.say("000000" if code.group(1) != "000000" else "111111")
    reply = await wa.say(code.group(1))
    assert "Registramos tu solicitud de borrado" in reply and "20 días hábiles" in reply
    request = await session.scalar(select(PrivacyRequest))
    assert request is not None and request.status == "open" and request.due_at is not None
    assert (request.due_at - request.verified_at).days >= 26  # type: ignore[operator]

    headers = auth_headers(settings.secret_key, owner)
    r = await app_client.post(f"/api/v1/privacy/requests/{request.id}/execute", headers=headers)
    assert r.status_code == 200, r.text
    assert (
        r.json()["status"] == "completed" and "invoices_and_payments" in r.json()["result"]["kept"]
    )

    data = (
        await app_client.get(f"/api/v1/privacy/members/{g.ana.id}/export", headers=headers)
    ).json()
    assert data["member"]["name"] is None and data["member"]["phone"] is None
    assert data["member"]["whatsapp_address"] is None
    assert data["messages"] == []  # every body redacted
    assert [i["number"] for i in data["invoices"]] == ["A-000009"]  # tax law keeps these
    await session.refresh(g.sub)
    assert g.sub.status == "canceled"
    visit = await session.scalar(select(CheckIn))
    assert visit is not None and visit.latitude is None
    done = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "privacy.deletion_executed")
    )
    assert done is not None

    # The same number writing again is a stranger now.
    assert "Bienvenido" in await wa.say("hola")


async def test_deletion_request_no_changes_nothing(wa: WhatsApp, session: AsyncSession) -> None:
    await self_gym(session)
    await wa.say("quiero que borren mis datos")
    assert "no borré nada" in await wa.say("no")
    request = await session.scalar(select(PrivacyRequest))
    assert request is not None and request.status == "canceled"


# --- progress ---------------------------------------------------------------------------------


async def test_progress_visits_streak_and_classes(wa: WhatsApp, session: AsyncSession) -> None:
    g = await self_gym(session)
    now = utcnow()
    for days_ago in (0, 7, 14):
        at = now - timedelta(days=days_ago)
        session.add(
            CheckIn(
                gym_id=g.gym.id,
                member_id=g.ana.id,
                location_id=g.centro.id,
                method="code",
                checked_in_at=at,
            )
        )
    await session.commit()
    reply = await wa.say("cómo voy?")
    assert "Tu progreso" in reply and "3 semanas seguidas" in reply
    assert "Última visita" in reply and "GoGym Centro" in reply
    assert "Clases este mes: 0" in reply


async def test_progress_without_visits(wa: WhatsApp, session: AsyncSession) -> None:
    await self_gym(session)
    assert "Todavía no tengo visitas" in await wa.say("mi progreso")


def test_now_is_aware() -> None:
    assert datetime.now(TZ).tzinfo is not None
