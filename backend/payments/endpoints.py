"""`/api/v1/payment-methods`: saved cards (provider tokens only) per member."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.errors import NotFound
from backend.members.service import get_member
from backend.payments import service
from backend.payments.models import PaymentMethod
from backend.payments.schemas import PaymentMethodCreate, PaymentMethodOut
from backend.types import utcnow

router = APIRouter(prefix="/payment-methods", tags=["payment-methods"])


async def _method(session: AsyncSession, gym_id: int, method_id: int) -> PaymentMethod:
    method = await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.id == method_id,
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.deleted_at.is_(None),
        )
    )
    if method is None:
        raise NotFound("Ese método de pago no existe.", "No such payment method.")
    return method


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_payment_method(
    body: PaymentMethodCreate,
    principal: Principal = Depends(require("payment_methods:write")),
    session: AsyncSession = Depends(get_session),
) -> PaymentMethodOut:
    member = await get_member(session, principal.gym_id, body.member_id)
    method = await service.add_method(
        session,
        gym_id=principal.gym_id,
        member_id=member.id,
        provider=body.provider,
        customer_id=body.customer_id,
        card_id=body.card_id,
        brand=body.brand,
        last4=body.last4,
        exp_month=body.exp_month,
        exp_year=body.exp_year,
        fingerprint=body.fingerprint,
        make_default=body.make_default,
        actor=principal.actor(),
        now=utcnow(),
    )
    return PaymentMethodOut.model_validate(method)


@router.get("")
async def list_payment_methods(
    member_id: int | None = Query(None, alias="memberId"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("payment_methods:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[PaymentMethodOut]:
    stmt = select(PaymentMethod).where(
        PaymentMethod.gym_id == principal.gym_id, PaymentMethod.deleted_at.is_(None)
    )
    if member_id is not None:
        stmt = stmt.where(PaymentMethod.member_id == member_id)
    rows, cursor = await paginate(session, stmt, page, (PaymentMethod.id,))
    return Page(items=[PaymentMethodOut.model_validate(m) for m in rows], next_cursor=cursor)


@router.delete("/{method_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_payment_method(
    method_id: int,
    principal: Principal = Depends(require("payment_methods:write")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    method = await _method(session, principal.gym_id, method_id)
    await service.remove_method(session, method, actor=principal.actor(), now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/{method_id}/set-default")
async def set_default_payment_method(
    method_id: int,
    principal: Principal = Depends(require("payment_methods:write")),
    session: AsyncSession = Depends(get_session),
) -> PaymentMethodOut:
    method = await _method(session, principal.gym_id, method_id)
    await service.set_default(session, method, actor=principal.actor())
    return PaymentMethodOut.model_validate(method)
