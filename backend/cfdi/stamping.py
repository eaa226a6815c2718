"""Stamping a claimed CFDI through the gym's PAC, storing it, and sending it to the member.

One document at a time, its row locked (SKIP LOCKED on PostgreSQL): two workers never
send the same document to the PAC at once, and the signed XML never changes between
attempts, so a retry after a lost answer gets the first stamp back (PACs answer a
duplicate with the stamp they already made), never a second CFDI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from satcfdi.exceptions import SchemaValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.cfdi import document as doc
from backend.cfdi.media import signed_url
from backend.cfdi.models import CfdiDocument
from backend.cfdi.pdf import render_pdf
from backend.cfdi.profile import require_profile, stamper_for
from backend.cfdi.stamper import InvoiceStamper, PacRejected, PacUnavailable
from backend.db import transaction
from backend.format import money
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.notify import after_quiet_hours
from backend.messaging.service import queue_message
from backend.settings import Settings

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=2)
# Art. 30 CFF: accounting records (CFDIs included) are kept five years.
RETENTION = timedelta(days=5 * 366)
NOT_VALID_ES = "⚠️ Timbre SIMULADO: documento de prueba, SIN validez fiscal."
NOT_VALID_EN = "⚠️ SIMULATED stamp: test document, NOT fiscally valid."


def retry_delay(attempts: int) -> timedelta:
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


async def due_documents(session: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    rows = await session.scalars(
        select(CfdiDocument.id)
        .where(CfdiDocument.status == "pending", CfdiDocument.next_attempt_at <= now)
        .order_by(CfdiDocument.next_attempt_at, CfdiDocument.id)
        .limit(limit)
    )
    return list(rows.all())


async def _lock(session: AsyncSession, document_id: int) -> CfdiDocument | None:
    query = select(CfdiDocument).where(CfdiDocument.id == document_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query)


async def stamp_document(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    document_id: int,
    *,
    clock: Callable[[], datetime],
    stamper: InvoiceStamper | None = None,
) -> str:
    """Stamp one pending CFDI in its own transaction; returns its status after."""
    async with transaction(sessionmaker) as session:
        return await stamp_locked(session, settings, document_id, clock(), stamper=stamper)


async def stamp_locked(
    session: AsyncSession,
    settings: Settings,
    document_id: int,
    now: datetime,
    *,
    stamper: InvoiceStamper | None = None,
) -> str:
    document = await _lock(session, document_id)
    if document is None:
        return "busy"  # missing, or another worker holds it right now
    if document.status != "pending" or (
        document.next_attempt_at is not None and document.next_attempt_at > now
    ):
        return document.status
    profile = await require_profile(session, document.gym_id)
    pac = stamper or stamper_for(settings, profile)
    assert document.xml is not None
    signed = doc.parse(document.xml)
    try:
        # XSD validation takes ~250 ms: out of the event loop.
        xml = await asyncio.to_thread(doc.validate_xsd, signed)
        stamp = await pac.stamp(xml)
    except PacUnavailable as exc:
        document.attempts += 1
        document.next_attempt_at = now + retry_delay(document.attempts)
        document.last_error = str(exc)[:500]
        log.warning(
            "cfdi %s: PAC unavailable (attempt %s): %s", document.id, document.attempts, exc
        )
        if document.attempts >= settings.cfdi_alert_after_attempts and document.alerted_at is None:
            await alert_staff(session, document, f"El PAC no responde: {exc}", now)
        return document.status
    except (PacRejected, SchemaValidationError, doc.CfdiRuleError) as exc:
        document.attempts += 1
        document.status, document.last_error = "failed", str(exc)[:500]
        await alert_staff(session, document, f"CFDI rechazado: {exc}", now)
        return document.status
    document.status, document.uuid = "stamped", stamp.uuid
    document.xml = stamp.xml.decode()
    document.simulated = pac.simulated
    document.pac_provider = pac.provider
    document.stamped_at = now
    document.retain_until = now + RETENTION
    document.attempts += 1
    document.last_error = None
    document.pdf = await asyncio.to_thread(render_pdf, document.xml, simulated=pac.simulated)
    await audit(
        session,
        document.gym_id,
        "system",
        "cfdi.stamped",
        "cfdi",
        document.id,
        {"uuid": stamp.uuid, "simulated": pac.simulated, "total_cents": document.total_cents},
    )
    if document.member_id is not None:
        await record_event(
            session,
            document.gym_id,
            document.member_id,
            "cfdi_stamped",
            {"cfdi_id": document.id, "uuid": stamp.uuid, "kind": document.kind},
            now,
        )
        await send_to_member(session, settings, document, now)
    return document.status


async def alert_staff(
    session: AsyncSession, document: CfdiDocument, reason: str, now: datetime
) -> None:
    """Tell the gym's staff a CFDI is stuck: an audit row the ops bot and the API show
    (GET /api/v1/cfdi?status=…), and an error in the logs for monitoring."""
    document.alerted_at = now
    await audit(
        session,
        document.gym_id,
        "system",
        "cfdi.alert",
        "cfdi",
        document.id,
        {"reason": reason[:300], "attempts": document.attempts, "status": document.status},
    )
    log.error("cfdi %s needs staff: %s", document.id, reason)


def describe(document: CfdiDocument, lang: str) -> str:
    """One line about a CFDI for the member, with the not-valid warning when simulated."""
    kind = {"I": ("Factura", "Invoice"), "E": ("Nota de crédito", "Credit note")}[document.kind]
    number = f"{document.series}-{document.folio}"
    if lang == "en":
        text = f"{kind[1]} {number} for {money(document.total_cents)}, UUID {document.uuid}"
        return text + (f"\n{NOT_VALID_EN}" if document.simulated else "")
    text = f"{kind[0]} {number} por {money(document.total_cents)}, folio fiscal {document.uuid}"
    return text + (f"\n{NOT_VALID_ES}" if document.simulated else "")


async def send_to_member(
    session: AsyncSession, settings: Settings, document: CfdiDocument, now: datetime
) -> None:
    """The PDF and the XML on WhatsApp, as two messages (one file each), by signed links."""
    if document.member_id is None or document.uuid is None:
        return
    member = await session.get(Member, document.member_id)
    gym = await session.get(Gym, document.gym_id)
    if member is None or gym is None:
        return
    lang = member.locale if member.locale in ("es", "en") else "es"
    intro = {
        "es": "¡Listo! Aquí está tu CFDI 🧾",
        "en": "Done! Here is your CFDI (Mexican tax invoice) 🧾",
    }[lang]
    xml_note = {"es": "Y el XML, para tu contador.", "en": "And the XML, for your accountant."}
    send_at = after_quiet_hours(now, ZoneInfo(gym.timezone), 21, 8)
    to = member.whatsapp_address or f"whatsapp:{member.phone}"
    for body, fmt in ((f"{intro}\n{describe(document, lang)}", "pdf"), (xml_note[lang], "xml")):
        await queue_message(
            session,
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            to=to,
            from_=f"whatsapp:{gym.whatsapp_number}",
            body=body,
            now=now,
            media_url=signed_url(settings, document.id, fmt, send_at),
            not_before=send_at,
        )
    document.sent_at = now
