"""`/api/v1/payment-methods`: saved cards (provider tokens only) per member; and
`/api/v1/payments`: payments, refunds, staff alerts, reconciliation, the gym's account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.crypto import SecretBox
from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.members.service import audit, get_member
from backend.payments import service
from backend.payments.accounts import AccountDirectory, save_account
from backend.payments.checkout import PaymentUnavailable, payer_email
from backend.payments.models import Payment, PaymentAlert, PaymentMethod
from backend.payments.provider import (
    PaymentProvider,
    ProviderRejected,
    ProviderUnavailable,
    SaveCardRequest,
)
from backend.payments.reconciliation import RECONCILIATION_KINDS
from backend.payments.refunds import refund_payment
from backend.payments.schemas import (
    AlertOut,
    CardTokenIn,
    PaymentAccountIn,
    PaymentAccountOut,
    PaymentMethodCreate,
    PaymentMethodOut,
    PaymentOut,
    RefundIn,
)
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


@router.post("/from-token", status_code=status.HTTP_201_CREATED)
async def add_payment_method_from_token(
    body: CardTokenIn,
    request: Request,
    principal: Principal = Depends(require("payment_methods:write")),
    session: AsyncSession = Depends(get_session),
) -> PaymentMethodOut:
    """Save a card from a Mercado Pago card token: customer + card ids are all we keep."""
    member = await get_member(session, principal.gym_id, body.member_id)
    provider: PaymentProvider = request.app.state.runtime.payments
    gym = await session.get(Gym, principal.gym_id)
    assert gym is not None
    try:
        card = await provider.save_card(
            SaveCardRequest(
                gym_id=principal.gym_id,
                email=payer_email(gym, member),
                card_token=body.card_token,
                idempotency_key=f"card:{member.id}:{body.card_token}"[:64],
                customer_id=await _customer_of(session, principal.gym_id, member.id),
            )
        )
    except ProviderUnavailable as exc:
        raise PaymentUnavailable(
            "No pudimos conectar con Mercado Pago.", "We could not reach Mercado Pago."
        ) from exc
    except ProviderRejected as exc:
        raise InvalidInput(
            "Mercado Pago no aceptó esa tarjeta.",
            "Mercado Pago did not accept that card.",
            {"provider_status": exc.status},
        ) from exc
    method = await service.add_method(
        session,
        gym_id=principal.gym_id,
        member_id=member.id,
        provider=provider.name,
        customer_id=card.customer_id,
        card_id=card.card_id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        fingerprint=card.fingerprint,
        make_default=body.make_default,
        actor=principal.actor(),
        now=utcnow(),
    )
    return PaymentMethodOut.model_validate(method)


async def _customer_of(session: AsyncSession, gym_id: int, member_id: int) -> str | None:
    return await session.scalar(
        select(PaymentMethod.provider_customer_id)
        .where(PaymentMethod.gym_id == gym_id, PaymentMethod.member_id == member_id)
        .order_by(PaymentMethod.id.desc())
        .limit(1)
    )


# --- /api/v1/payments: payments, refunds, staff alerts, reconciliation, the gym's account ---

payments_router = APIRouter(prefix="/payments", tags=["payments"])


@payments_router.get("")
async def list_payments(
    member_id: int | None = Query(None, alias="memberId"),
    invoice_id: int | None = Query(None, alias="invoiceId"),
    status_: str | None = Query(None, alias="status", max_length=14),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[PaymentOut]:
    stmt = select(Payment).where(Payment.gym_id == principal.gym_id)
    if member_id is not None:
        stmt = stmt.where(Payment.member_id == member_id)
    if invoice_id is not None:
        stmt = stmt.where(Payment.invoice_id == invoice_id)
    if status_ is not None:
        stmt = stmt.where(Payment.status == status_)
    rows, cursor = await paginate(session, stmt, page, (Payment.id,))
    return Page(items=[PaymentOut.model_validate(p) for p in rows], next_cursor=cursor)


@payments_router.post("/{payment_id}/refunds")
async def refund(
    payment_id: int,
    body: RefundIn,
    request: Request,
    principal: Principal = Depends(require("invoices:write")),
    session: AsyncSession = Depends(get_session),
) -> PaymentOut:
    """Refund all (no amount) or part of a payment; a full refund voids the invoice and
    ends the period's access, a partial one keeps both."""
    row = await refund_payment(
        session,
        request.app.state.runtime.payments,
        principal.gym_id,
        payment_id,
        body.amount_cents,
        actor=principal.actor(),
        now=utcnow(),
    )
    return PaymentOut.model_validate(row)


@payments_router.get("/alerts")
async def list_alerts(
    kind: str | None = Query(None, max_length=30),
    open_only: bool = Query(True, alias="open"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[AlertOut]:
    """What staff must look at: held payments, refunds, chargebacks, mismatches."""
    stmt = select(PaymentAlert).where(PaymentAlert.gym_id == principal.gym_id)
    if kind is not None:
        stmt = stmt.where(PaymentAlert.kind == kind)
    if open_only:
        stmt = stmt.where(PaymentAlert.resolved_at.is_(None))
    rows, cursor = await paginate(session, stmt, page, (PaymentAlert.id,))
    return Page(items=[AlertOut.model_validate(a) for a in rows], next_cursor=cursor)


@payments_router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(
    alert_id: int,
    principal: Principal = Depends(require("invoices:write")),
    session: AsyncSession = Depends(get_session),
) -> AlertOut:
    alert = await session.scalar(
        select(PaymentAlert).where(
            PaymentAlert.id == alert_id, PaymentAlert.gym_id == principal.gym_id
        )
    )
    if alert is None:
        raise NotFound("Esa alerta no existe.", "No such alert.")
    if alert.resolved_at is None:
        alert.resolved_at, alert.resolved_by = utcnow(), principal.actor()
        await audit(
            session, principal.gym_id, principal.actor(), "payment_alert.resolved",
            "payment_alert", alert.id, {"kind": alert.kind},
        )  # fmt: skip
    return AlertOut.model_validate(alert)


@payments_router.get("/reconciliation")
async def reconciliation_mismatches(
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[AlertOut]:
    """Open mismatches found by the daily reconciliation against Mercado Pago."""
    stmt = select(PaymentAlert).where(
        PaymentAlert.gym_id == principal.gym_id,
        PaymentAlert.kind.in_(RECONCILIATION_KINDS),
        PaymentAlert.resolved_at.is_(None),
    )
    rows, cursor = await paginate(session, stmt, page, (PaymentAlert.id,))
    return Page(items=[AlertOut.model_validate(a) for a in rows], next_cursor=cursor)


@payments_router.put("/account")
async def save_payment_account(
    body: PaymentAccountIn,
    request: Request,
    principal: Principal = Depends(require("staff:manage")),
    session: AsyncSession = Depends(get_session),
) -> PaymentAccountOut:
    """The gym's own Mercado Pago account (owners only); secrets are stored encrypted."""
    row = await save_account(
        session,
        SecretBox.from_settings(request.app.state.settings),
        gym_id=principal.gym_id,
        user_id=body.user_id,
        access_token=body.access_token,
        webhook_secret=body.webhook_secret,
        public_key=body.public_key,
        actor=principal.actor(),
        now=utcnow(),
    )
    directory: AccountDirectory = request.app.state.payment_accounts
    directory.invalidate()
    return PaymentAccountOut.model_validate(row)
