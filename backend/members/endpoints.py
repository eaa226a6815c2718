"""`/api/v1/members`: staff and integrations sign members up, find, edit and deactivate them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.members import service
from backend.members.models import Member
from backend.members.schemas import MemberCreate, MemberOut, MemberStatus, MemberUpdate
from backend.types import utcnow

router = APIRouter(prefix="/members", tags=["members"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_member(
    body: MemberCreate,
    principal: Principal = Depends(require("members:write")),
    session: AsyncSession = Depends(get_session),
) -> MemberOut:
    member = await service.create_member(
        session, principal.gym_id, principal.actor(), body, utcnow()
    )
    return MemberOut.model_validate(member)


@router.get("")
async def list_members(
    q: str | None = Query(None, max_length=120, description="Part of a name or phone number."),
    status: MemberStatus | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("members:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[MemberOut]:
    """The gym's members, newest first."""
    stmt = service.search_members(principal.gym_id, q, status)
    rows, next_cursor = await paginate(session, stmt, page, (Member.created_at, Member.id))
    return Page(items=[MemberOut.model_validate(m) for m in rows], next_cursor=next_cursor)


@router.get("/{member_id}")
async def get_member(
    member_id: int,
    principal: Principal = Depends(require("members:read")),
    session: AsyncSession = Depends(get_session),
) -> MemberOut:
    return MemberOut.model_validate(await service.get_member(session, principal.gym_id, member_id))


@router.patch("/{member_id}")
async def update_member(
    member_id: int,
    body: MemberUpdate,
    principal: Principal = Depends(require("members:write")),
    session: AsyncSession = Depends(get_session),
) -> MemberOut:
    member = await service.update_member(
        session, principal.gym_id, principal.actor(), member_id, body, utcnow()
    )
    return MemberOut.model_validate(member)


@router.delete("/{member_id}")
async def deactivate_member(
    member_id: int,
    principal: Principal = Depends(require("members:write")),
    session: AsyncSession = Depends(get_session),
) -> MemberOut:
    """Soft delete: the member becomes inactive; history and invoices stay."""
    member = await service.deactivate_member(
        session, principal.gym_id, principal.actor(), member_id, utcnow()
    )
    return MemberOut.model_validate(member)
