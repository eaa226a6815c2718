"""`/api/v1/cfdi`: list and download a gym's CFDIs (XML, PDF), re-send, cancel; the fiscal
profile. `media_router` serves the signed, expiring links WhatsApp fetches (no login)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.cfdi import cancel, profile, service
from backend.cfdi.media import is_valid
from backend.cfdi.models import DOCUMENT_STATUSES, CfdiDocument, GymFiscalProfile
from backend.cfdi.schemas import CancelIn, CfdiOut, FiscalProfileIn, FiscalProfileOut
from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.settings import Settings
from backend.types import utcnow

router = APIRouter(prefix="/cfdi", tags=["cfdi"])
media_router = APIRouter(tags=["cfdi"])
PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def cfdi_out(document: CfdiDocument) -> CfdiOut:
    out = CfdiOut.model_validate(document, from_attributes=True)
    out.fiscally_valid = not document.simulated
    return out


@router.get("", response_model=Page[CfdiOut])
async def list_cfdi(
    member_id: int | None = Query(None),
    period: str | None = Query(None, description="YYYY-MM in the gym's time zone."),
    status: str | None = Query(None),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(require("cfdi:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[CfdiOut]:
    stmt = select(CfdiDocument).where(CfdiDocument.gym_id == principal.gym_id)
    if member_id is not None:
        stmt = stmt.where(CfdiDocument.member_id == member_id)
    if status is not None:
        if status not in DOCUMENT_STATUSES:
            raise InvalidInput("Estado inválido.", "Invalid status.", {"field": "status"})
        stmt = stmt.where(CfdiDocument.status == status)
    if period is not None:
        match = PERIOD.match(period)
        if not match or not 1 <= int(match[2]) <= 12:
            raise InvalidInput("Periodo inválido (AAAA-MM).", "Invalid period (YYYY-MM).")
        gym = await session.get(Gym, principal.gym_id)
        assert gym is not None
        tz = ZoneInfo(gym.timezone)
        year, month = int(match[1]), int(match[2])
        start = datetime(year, month, 1, tzinfo=tz)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        stmt = stmt.where(CfdiDocument.issued_at >= start, CfdiDocument.issued_at < end)
    rows, cursor = await paginate(session, stmt, params, (CfdiDocument.issued_at, CfdiDocument.id))
    return Page[CfdiOut](items=[cfdi_out(r) for r in rows], next_cursor=cursor)


@router.get("/profile", response_model=FiscalProfileOut)
async def get_fiscal_profile(
    principal: Principal = Depends(require("cfdi:read")),
    session: AsyncSession = Depends(get_session),
) -> FiscalProfileOut:
    found = await profile.get_profile(session, principal.gym_id)
    if found is None:
        raise NotFound("Sin datos fiscales.", "No fiscal profile.")
    return _profile_out(found)


def _profile_out(found: GymFiscalProfile) -> FiscalProfileOut:
    out = FiscalProfileOut.model_validate(found, from_attributes=True)
    out.fiscally_valid = out.pac_provider != "simulated"
    return out


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("Base64 inválido.", "Invalid base64.", {"field": field}) from exc


@router.put("/profile", response_model=FiscalProfileOut)
async def put_fiscal_profile(
    body: FiscalProfileIn,
    request: Request,
    principal: Principal = Depends(require("cfdi:write")),
    session: AsyncSession = Depends(get_session),
) -> FiscalProfileOut:
    csd = None
    if body.csd_certificate_b64 or body.csd_key_b64:
        if not (body.csd_certificate_b64 and body.csd_key_b64 and body.csd_password):
            raise InvalidInput(
                "El CSD necesita .cer, .key y contraseña.",
                "The CSD needs the .cer, the .key and the password.",
                {"field": "csd"},
            )
        csd = profile.Csd(
            _b64(body.csd_certificate_b64, "csd_certificate_b64"),
            _b64(body.csd_key_b64, "csd_key_b64"),
            body.csd_password,
        )
    saved = await profile.save_profile(
        session,
        _settings(request),
        principal.gym_id,
        rfc=body.rfc,
        legal_name=body.legal_name,
        regimen=body.regimen,
        postal_code=body.postal_code,
        series=body.series,
        global_periodicity=body.global_periodicity,
        pac_provider=body.pac_provider,
        pac_environment=body.pac_environment,
        pac_credentials=body.pac_credentials,
        csd=csd,
        actor=principal.actor(),
    )
    return _profile_out(saved)


@router.get("/{document_id}", response_model=CfdiOut)
async def get_cfdi(
    document_id: int,
    principal: Principal = Depends(require("cfdi:read")),
    session: AsyncSession = Depends(get_session),
) -> CfdiOut:
    return cfdi_out(await service.get_document(session, principal.gym_id, document_id))


def _file(document: CfdiDocument, fmt: str) -> Response:
    name = f"{document.series}-{document.folio}" + ("-SIMULADO" if document.simulated else "")
    if fmt == "xml":
        if not document.xml:
            raise NotFound("Sin XML.", "No XML.")
        content, media_type = document.xml.encode(), "application/xml"
    else:
        if not document.pdf:
            raise NotFound("El PDF aún no está listo.", "The PDF is not ready yet.")
        content, media_type = document.pdf, "application/pdf"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if document.simulated:
        headers["X-Fiscally-Valid"] = "false"
    return Response(content, media_type=media_type, headers=headers)


@router.get("/{document_id}/xml", response_class=Response)
async def download_xml(
    document_id: int,
    principal: Principal = Depends(require("cfdi:read")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    return _file(await service.get_document(session, principal.gym_id, document_id), "xml")


@router.get("/{document_id}/pdf", response_class=Response)
async def download_pdf(
    document_id: int,
    principal: Principal = Depends(require("cfdi:read")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    return _file(await service.get_document(session, principal.gym_id, document_id), "pdf")


@router.post("/{document_id}/resend", response_model=CfdiOut)
async def resend_cfdi(
    document_id: int,
    request: Request,
    principal: Principal = Depends(require("cfdi:write")),
    session: AsyncSession = Depends(get_session),
) -> CfdiOut:
    document = await service.get_document(session, principal.gym_id, document_id)
    return cfdi_out(await service.resend(session, _settings(request), document, utcnow()))


@router.post("/{document_id}/cancel", response_model=CfdiOut)
async def cancel_cfdi(
    document_id: int,
    body: CancelIn,
    request: Request,
    principal: Principal = Depends(require("cfdi:write")),
    session: AsyncSession = Depends(get_session),
) -> CfdiOut:
    document = await service.get_document(session, principal.gym_id, document_id)
    done = await cancel.cancel_document(
        session,
        _settings(request),
        document,
        motive=body.motive,
        substitute_uuid=body.substitute_uuid,
        actor=principal.actor(),
        now=utcnow(),
    )
    return cfdi_out(done)


@media_router.get("/media/cfdi/{document_id}.{fmt}", include_in_schema=False)
async def signed_media(
    document_id: int,
    fmt: str,
    request: Request,
    exp: int = Query(...),
    sig: str = Query(...),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """A CFDI file by its signed link (what WhatsApp fetches); expired or forged → 404."""
    if not is_valid(_settings(request), document_id, fmt, exp, sig, utcnow()):
        raise NotFound("Enlace inválido o vencido.", "Invalid or expired link.")
    document = await session.get(CfdiDocument, document_id)
    if document is None:
        raise NotFound("Enlace inválido o vencido.", "Invalid or expired link.")
    return _file(document, fmt)
