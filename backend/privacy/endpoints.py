"""`/api/v1/privacy`: staff track ARCO requests against their legal deadline, execute
verified deletions, and export a member's data; `/files/privacy-export/...` serves the
export a member asked for in the chat through a signed, expiring link."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.errors import NotFound
from backend.members.service import audit
from backend.privacy import export, service
from backend.privacy.models import PrivacyRequest
from backend.privacy.schemas import PrivacyRequestOut
from backend.types import utcnow

router = APIRouter(prefix="/privacy", tags=["privacy"])
files_router = APIRouter(prefix=export.EXPORT_PATH, include_in_schema=False)


def _out(request: PrivacyRequest) -> PrivacyRequestOut:
    out = PrivacyRequestOut.model_validate(request)
    out.overdue = (
        request.status == "open" and request.due_at is not None and request.due_at < utcnow()
    )
    return out


@router.get("/requests")
async def list_requests(
    status: Literal["pending_verification", "open", "completed", "canceled"] | None = None,
    kind: Literal["access", "deletion"] | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("privacy:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[PrivacyRequestOut]:
    """ARCO requests, newest first; `overdue` marks open ones past their legal deadline."""
    stmt = select(PrivacyRequest).where(PrivacyRequest.gym_id == principal.gym_id)
    if status is not None:
        stmt = stmt.where(PrivacyRequest.status == status)
    if kind is not None:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    rows, cursor = await paginate(
        session, stmt, page, (PrivacyRequest.requested_at, PrivacyRequest.id)
    )
    return Page(items=[_out(r) for r in rows], next_cursor=cursor)


@router.get("/requests/{request_id}")
async def get_request(
    request_id: int,
    principal: Principal = Depends(require("privacy:read")),
    session: AsyncSession = Depends(get_session),
) -> PrivacyRequestOut:
    return _out(await service.get_request(session, principal.gym_id, request_id))


@router.post("/requests/{request_id}/execute")
async def execute_request(
    request_id: int,
    principal: Principal = Depends(require("privacy:write")),
    session: AsyncSession = Depends(get_session),
) -> PrivacyRequestOut:
    """Execute a verified deletion: anonymize the member, keep what tax law requires;
    `result` records what was done."""
    request = await service.execute_deletion(
        session, principal.gym_id, request_id, actor=principal.actor(), now=utcnow()
    )
    return _out(request)


@router.post("/requests/{request_id}/cancel")
async def cancel_request(
    request_id: int,
    principal: Principal = Depends(require("privacy:write")),
    session: AsyncSession = Depends(get_session),
) -> PrivacyRequestOut:
    request = await service.cancel_request(
        session, principal.gym_id, request_id, actor=principal.actor()
    )
    return _out(request)


@router.get("/members/{member_id}/export")
async def export_member(
    member_id: int,
    principal: Principal = Depends(require("privacy:read")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Everything the gym holds about a member, as JSON (an ARCO access answer)."""
    now = utcnow()
    data = await export.collect(session, principal.gym_id, member_id)
    await audit(session, principal.gym_id, principal.actor(), "privacy.export", "member", member_id)
    return Response(export.as_json(data, now), media_type="application/json")


@files_router.get("/{token}/{filename}")
async def download_export(
    token: str,
    filename: Literal["mis-datos.pdf", "mis-datos.json"],
    request: Request,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The member's export behind a signed link (WhatsApp fetches the PDF as media)."""
    now = utcnow()
    gym_id, member_id, request_id = export.read_export_token(
        request.app.state.settings.secret_key, token, now
    )
    found = await session.scalar(
        select(PrivacyRequest.id).where(
            PrivacyRequest.id == request_id,
            PrivacyRequest.gym_id == gym_id,
            PrivacyRequest.member_id == member_id,
        )
    )
    if found is None:
        raise NotFound("Ese enlace no existe o ya venció.", "That link does not exist or expired.")
    data = await export.collect(session, gym_id, member_id)
    disposition = f'inline; filename="{filename}"'
    if filename.endswith(".pdf"):
        return Response(
            export.as_pdf(data, now),
            media_type="application/pdf",
            headers={"Content-Disposition": disposition},
        )
    return Response(
        export.as_json(data, now),
        media_type="application/json",
        headers={"Content-Disposition": disposition},
    )
