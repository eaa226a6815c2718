"""Cancelling a stamped CFDI through the PAC, with SAT's motives (since 2022):
01 errors, with the UUID that substitutes it; 02 errors without relation; 03 the
operation did not happen; 04 a nominative operation included in a factura global."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cfdi.models import CANCEL_MOTIVES, CfdiDocument, CfdiGlobalItem
from backend.cfdi.profile import require_profile, signer_of, stamper_for
from backend.cfdi.stamper import InvoiceStamper, PacRejected, PacUnavailable
from backend.errors import Conflict, DomainError, InvalidInput
from backend.members.service import audit
from backend.settings import Settings


class PacDown(DomainError):
    status_code = 503
    code = "pac_unavailable"


async def cancel_document(
    session: AsyncSession,
    settings: Settings,
    document: CfdiDocument,
    *,
    motive: str,
    substitute_uuid: str | None,
    actor: str,
    now: datetime,
    stamper: InvoiceStamper | None = None,
) -> CfdiDocument:
    if motive not in CANCEL_MOTIVES:
        raise InvalidInput(
            "Motivo de cancelación inválido (01, 02, 03 o 04).",
            "Invalid cancellation motive (01, 02, 03 or 04).",
            {"field": "motive"},
        )
    if document.status != "stamped" or document.uuid is None:
        raise Conflict(
            "Solo se puede cancelar un CFDI timbrado.", "Only a stamped CFDI can be cancelled."
        )
    if motive == "01":
        substitute = await session.scalar(
            select(CfdiDocument).where(
                CfdiDocument.gym_id == document.gym_id,
                CfdiDocument.uuid == (substitute_uuid or "").upper(),
                CfdiDocument.status == "stamped",
            )
        )
        if substitute is None or substitute.id == document.id:
            raise InvalidInput(
                "El motivo 01 necesita el folio fiscal (UUID) del CFDI timbrado que lo sustituye.",
                "Motive 01 needs the UUID of the stamped CFDI that substitutes it.",
                {"field": "substitute_uuid"},
            )
        substitute_uuid = substitute.uuid
    else:
        substitute_uuid = None
    if motive == "04" and document.scope != "global":
        raise InvalidInput(
            "El motivo 04 es para una factura global.",
            "Motive 04 is for a factura global.",
            {"field": "motive"},
        )
    profile = await require_profile(session, document.gym_id)
    pac = stamper or stamper_for(settings, profile)
    assert document.xml is not None
    try:
        outcome = await pac.cancel(
            document.xml.encode(), motive, substitute_uuid, signer_of(settings, profile)
        )
    except PacUnavailable as exc:
        raise PacDown(
            "El PAC no responde; intenta la cancelación más tarde.",
            "The PAC is not answering; try the cancellation later.",
        ) from exc
    except PacRejected as exc:
        raise Conflict(
            f"El PAC rechazó la cancelación: {exc}", f"The PAC refused the cancellation: {exc}"
        ) from exc
    document.cancel_motive, document.cancel_substitute_uuid = motive, substitute_uuid
    document.cancel_requested_at, document.cancel_ack = now, outcome.acknowledgment
    if outcome.status == "canceled":
        document.status, document.canceled_at = "canceled", now
        if document.scope == "global" and document.kind == "I":
            # Its tickets are free again: a new global (or their own CFDIs) covers them.
            await session.execute(
                delete(CfdiGlobalItem).where(CfdiGlobalItem.document_id == document.id)
            )
    else:
        document.status = "cancel_pending"
    await audit(
        session,
        document.gym_id,
        actor,
        "cfdi.canceled" if outcome.status == "canceled" else "cfdi.cancel_requested",
        "cfdi",
        document.id,
        {"uuid": document.uuid, "motive": motive, "substitute_uuid": substitute_uuid},
    )
    return document
