"""`/api/v1` billing: plans, subscriptions, invoices, credits, companies, reports, runs."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.billing import credits, invoices, plans, reports, subscriptions
from backend.billing.cycle import run_cycle
from backend.billing.dunning import run_dunning
from backend.billing.models import Company, Invoice, Plan, Subscription
from backend.billing.receipt import receipt_pdf
from backend.billing.schemas import (
    BillingRunOut,
    CancelRequest,
    CashPayment,
    CompanyCreate,
    CompanyOut,
    CreditGrant,
    CreditOut,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceStatus,
    PauseRequest,
    PaymentOut,
    PlanChangeOut,
    PlanChangeRequest,
    PlanCreate,
    PlanOut,
    PlanUpdate,
    RevenueOut,
    SeatRequest,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionStatus,
    SubscriptionUpdate,
)
from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.members.service import get_member
from backend.payments.service import charge_invoice, record_cash_payment
from backend.runtime import Runtime
from backend.types import utcnow

router = APIRouter(tags=["billing"])
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _gym(session: AsyncSession, principal: Principal) -> Gym:
    gym = await session.get(Gym, principal.gym_id)
    assert gym is not None
    return gym


def _scoped_gym(principal: Principal, gym_id: int | None) -> None:
    """`gymId` filters are accepted for integrations but never reach another gym."""
    if gym_id is not None and gym_id != principal.gym_id:
        raise NotFound("Ese gimnasio no existe.", "No such gym.")


# --- plans ----------------------------------------------------------------------------------


async def _plan_out(session: AsyncSession, plan: Plan) -> PlanOut:
    out = PlanOut.model_validate(plan)
    out.location_ids = (await plans.location_ids(session, [plan.id])).get(plan.id, [])
    return out


@router.post("/plans", status_code=status.HTTP_201_CREATED, tags=["plans"])
async def create_plan(
    body: PlanCreate,
    principal: Principal = Depends(require("plans:write")),
    session: AsyncSession = Depends(get_session),
) -> PlanOut:
    plan = await plans.create_plan(session, principal.gym_id, principal.actor(), body)
    return await _plan_out(session, plan)


@router.get("/plans", tags=["plans"])
async def list_plans(
    active: bool | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("plans:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[PlanOut]:
    stmt = select(Plan).where(Plan.gym_id == principal.gym_id)
    if active is not None:
        stmt = stmt.where(Plan.active.is_(active))
    rows, cursor = await paginate(session, stmt, page, (Plan.id,), descending=False)
    where = await plans.location_ids(session, [p.id for p in rows])
    items = [
        PlanOut.model_validate(p).model_copy(update={"location_ids": where.get(p.id, [])})
        for p in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.get("/plans/{plan_id}", tags=["plans"])
async def get_plan(
    plan_id: int,
    principal: Principal = Depends(require("plans:read")),
    session: AsyncSession = Depends(get_session),
) -> PlanOut:
    return await _plan_out(session, await plans.get_plan(session, principal.gym_id, plan_id))


@router.patch("/plans/{plan_id}", tags=["plans"])
async def update_plan(
    plan_id: int,
    body: PlanUpdate,
    principal: Principal = Depends(require("plans:write")),
    session: AsyncSession = Depends(get_session),
) -> PlanOut:
    plan = await plans.update_plan(session, principal.gym_id, plan_id, principal.actor(), body)
    return await _plan_out(session, plan)


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["plans"])
async def retire_plan(
    plan_id: int,
    principal: Principal = Depends(require("plans:write")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Plans are retired, not deleted: current subscribers keep theirs, nobody new joins."""
    await plans.update_plan(
        session, principal.gym_id, plan_id, principal.actor(), PlanUpdate(active=False)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- subscriptions --------------------------------------------------------------------------


@router.post("/subscriptions", status_code=status.HTTP_201_CREATED, tags=["subscriptions"])
async def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> PlanChangeOut:
    """Sign a member up; the first invoice is charged to their default card if they have one."""
    now = utcnow()
    gym = await _gym(session, principal)
    member = await get_member(session, principal.gym_id, body.member_id)
    plan = await plans.get_plan(session, principal.gym_id, body.plan_id)
    if body.company_id is not None:
        await _company(session, principal.gym_id, body.company_id)
    sub, invoice = await subscriptions.start(
        session,
        gym=gym,
        member=member,
        plan=plan,
        actor=principal.actor(),
        now=now,
        company_id=body.company_id,
    )
    if invoice is not None and invoice.company_id is None:
        await charge_invoice(
            session, _runtime(request).payments, invoice, actor=principal.actor(), now=now
        )
    return await _change_out(session, sub, invoice, 0, now)


@router.get("/subscriptions", tags=["subscriptions"])
async def list_subscriptions(
    gym_id: int | None = Query(None, alias="gymId"),
    status_filter: SubscriptionStatus | None = Query(None, alias="status"),
    member_id: int | None = Query(None, alias="memberId"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("subscriptions:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[SubscriptionOut]:
    _scoped_gym(principal, gym_id)
    stmt = select(Subscription).where(Subscription.gym_id == principal.gym_id)
    if status_filter is not None:
        stmt = stmt.where(Subscription.status == status_filter)
    if member_id is not None:
        stmt = stmt.where(Subscription.member_id == member_id)
    rows, cursor = await paginate(session, stmt, page, (Subscription.id,))
    return Page(items=[SubscriptionOut.model_validate(s) for s in rows], next_cursor=cursor)


@router.get("/subscriptions/{sub_id}", tags=["subscriptions"])
async def get_subscription(
    sub_id: int,
    principal: Principal = Depends(require("subscriptions:read")),
    session: AsyncSession = Depends(get_session),
) -> SubscriptionOut:
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    return SubscriptionOut.model_validate(sub)


@router.patch("/subscriptions/{sub_id}", tags=["subscriptions"])
async def update_subscription(
    sub_id: int,
    body: SubscriptionUpdate,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> SubscriptionOut:
    now, actor = utcnow(), principal.actor()
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    changes = body.model_dump(exclude_unset=True)
    if "cancel_at_period_end" in changes:
        await subscriptions.keep(session, sub, actor=actor, now=now)
    if changes.get("addon_plan_ids") is not None:
        await subscriptions.set_addons(
            session, sub, changes["addon_plan_ids"], actor=actor, now=now
        )
    if "company_id" in changes:
        if changes["company_id"] is not None:
            await _company(session, principal.gym_id, changes["company_id"])
        sub.company_id = changes["company_id"]
    await session.flush()
    return SubscriptionOut.model_validate(sub)


@router.post("/subscriptions/{sub_id}/cancel", tags=["subscriptions"])
async def cancel_subscription(
    sub_id: int,
    body: CancelRequest,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> SubscriptionOut:
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    await subscriptions.cancel(
        session,
        sub,
        actor=principal.actor(),
        now=utcnow(),
        reason=body.reason,
        at_period_end=body.at_period_end,
    )
    return SubscriptionOut.model_validate(sub)


@router.post("/subscriptions/{sub_id}/upgrade", tags=["subscriptions"])
async def upgrade_subscription(
    sub_id: int,
    body: PlanChangeRequest,
    request: Request,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> PlanChangeOut:
    """Takes effect at once; the prorated difference is invoiced and charged to the card."""
    now = utcnow()
    gym = await _gym(session, principal)
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    change = await subscriptions.upgrade(
        session, gym, sub, body.plan_id, actor=principal.actor(), now=now
    )
    if change.invoice is not None and change.invoice.company_id is None:
        await charge_invoice(
            session, _runtime(request).payments, change.invoice, actor=principal.actor(), now=now
        )
    return await _change_out(session, sub, change.invoice, 0, change.effective_at)


@router.post("/subscriptions/{sub_id}/downgrade", tags=["subscriptions"])
async def downgrade_subscription(
    sub_id: int,
    body: PlanChangeRequest,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> PlanChangeOut:
    """At the period end, or at once with a balance credit (the gym's `downgrade` setting)."""
    gym = await _gym(session, principal)
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    change = await subscriptions.downgrade(
        session, gym, sub, body.plan_id, actor=principal.actor(), now=utcnow()
    )
    return await _change_out(session, sub, None, change.credit_cents, change.effective_at)


@router.post("/subscriptions/{sub_id}/pause", tags=["subscriptions"])
async def pause_subscription(
    sub_id: int,
    body: PauseRequest,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> SubscriptionOut:
    gym = await _gym(session, principal)
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    await subscriptions.pause(session, gym, sub, body.days, actor=principal.actor(), now=utcnow())
    return SubscriptionOut.model_validate(sub)


@router.post("/subscriptions/{sub_id}/resume", tags=["subscriptions"])
async def resume_subscription(
    sub_id: int,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> SubscriptionOut:
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    await subscriptions.resume(session, sub, actor=principal.actor(), now=utcnow())
    return SubscriptionOut.model_validate(sub)


@router.post(
    "/subscriptions/{sub_id}/seats", status_code=status.HTTP_204_NO_CONTENT, tags=["subscriptions"]
)
async def add_seat(
    sub_id: int,
    body: SeatRequest,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    member = await get_member(session, principal.gym_id, body.member_id)
    await subscriptions.add_seat(session, sub, member, actor=principal.actor(), now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/subscriptions/{sub_id}/seats/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["subscriptions"],
)
async def remove_seat(
    sub_id: int,
    member_id: int,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    sub = await subscriptions.get_subscription(session, principal.gym_id, sub_id)
    await subscriptions.remove_seat(session, sub, member_id, actor=principal.actor())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _change_out(
    session: AsyncSession, sub: Subscription, invoice: Invoice | None, credit: int, at: object
) -> PlanChangeOut:
    await session.flush()
    return PlanChangeOut.model_validate(
        {
            "subscription": SubscriptionOut.model_validate(sub),
            "invoice": await _invoice_out(session, invoice) if invoice else None,
            "credit_cents": credit,
            "effective_at": at,
        }
    )


# --- invoices -------------------------------------------------------------------------------


async def _invoice_out(session: AsyncSession, invoice: Invoice) -> InvoiceOut:
    await session.refresh(invoice)
    out = InvoiceOut.model_validate(invoice)
    out.lines = [
        InvoiceLineOut.model_validate(line)
        for line in await invoices.invoice_lines(session, invoice.id)
    ]
    return out


async def _invoice(session: AsyncSession, gym_id: int, invoice_id: int) -> Invoice:
    invoice = await session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.gym_id == gym_id)
    )
    if invoice is None:
        raise NotFound("Ese recibo no existe.", "No such invoice.")
    return invoice


@router.get("/invoices", tags=["invoices"])
async def list_invoices(
    gym_id: int | None = Query(None, alias="gymId"),
    status_filter: InvoiceStatus | None = Query(None, alias="status"),
    member_id: int | None = Query(None, alias="memberId"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[InvoiceOut]:
    _scoped_gym(principal, gym_id)
    stmt = select(Invoice).where(Invoice.gym_id == principal.gym_id)
    if status_filter is not None:
        stmt = stmt.where(Invoice.status == status_filter)
    if member_id is not None:
        stmt = stmt.where(Invoice.member_id == member_id)
    rows, cursor = await paginate(session, stmt, page, (Invoice.id,))
    return Page(items=[InvoiceOut.model_validate(i) for i in rows], next_cursor=cursor)


@router.get("/invoices/{invoice_id}", tags=["invoices"])
async def get_invoice(
    invoice_id: int,
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> InvoiceOut:
    return await _invoice_out(session, await _invoice(session, principal.gym_id, invoice_id))


@router.get(
    "/invoices/{invoice_id}/receipt.pdf",
    tags=["invoices"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def invoice_receipt(
    invoice_id: int,
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> Response:
    invoice = await _invoice(session, principal.gym_id, invoice_id)
    gym = await _gym(session, principal)
    member = await get_member(session, principal.gym_id, invoice.member_id)
    pdf = receipt_pdf(gym, member, invoice, await invoices.invoice_lines(session, invoice.id))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="recibo-{invoice.number}.pdf"'},
    )


@router.post("/invoices/{invoice_id}/void", tags=["invoices"])
async def void_invoice(
    invoice_id: int,
    principal: Principal = Depends(require("invoices:write")),
    session: AsyncSession = Depends(get_session),
) -> InvoiceOut:
    invoice = await invoices.lock_invoice(session, principal.gym_id, invoice_id)
    if invoice is None:
        raise NotFound("Ese recibo no existe.", "No such invoice.")
    await invoices.void(session, invoice, actor=principal.actor(), now=utcnow())
    return await _invoice_out(session, invoice)


@router.post(
    "/invoices/{invoice_id}/payments", status_code=status.HTTP_201_CREATED, tags=["invoices"]
)
async def pay_cash(
    invoice_id: int,
    body: CashPayment,
    principal: Principal = Depends(require("subscriptions:write")),
    session: AsyncSession = Depends(get_session),
) -> PaymentOut:
    """Cash received at the front desk for the exact amount due."""
    payment = await record_cash_payment(
        session,
        principal.gym_id,
        invoice_id,
        body.amount_cents,
        actor=principal.actor(),
        now=utcnow(),
        reference=body.reference,
    )
    return PaymentOut.model_validate(payment)


# --- credits and companies ------------------------------------------------------------------


@router.post("/credits", status_code=status.HTTP_201_CREATED, tags=["invoices"])
async def grant_credit(
    body: CreditGrant,
    principal: Principal = Depends(require("invoices:write")),
    session: AsyncSession = Depends(get_session),
) -> CreditOut:
    """Goodwill balance credit; it is applied to the member's next invoices."""
    member = await get_member(session, principal.gym_id, body.member_id)
    await credits.grant(
        session,
        gym_id=principal.gym_id,
        member_id=member.id,
        amount_cents=body.amount_cents,
        reason="goodwill",
        actor=principal.actor(),
        now=utcnow(),
        note=body.note,
    )
    return CreditOut(
        member_id=member.id,
        balance_cents=await credits.balance(session, principal.gym_id, member.id),
    )


@router.get("/credits/{member_id}", tags=["invoices"])
async def get_credit(
    member_id: int,
    principal: Principal = Depends(require("invoices:read")),
    session: AsyncSession = Depends(get_session),
) -> CreditOut:
    member = await get_member(session, principal.gym_id, member_id)
    return CreditOut(
        member_id=member.id,
        balance_cents=await credits.balance(session, principal.gym_id, member.id),
    )


async def _company(session: AsyncSession, gym_id: int, company_id: int) -> Company:
    company = await session.scalar(
        select(Company).where(Company.id == company_id, Company.gym_id == gym_id)
    )
    if company is None:
        raise NotFound("Esa empresa no existe.", "No such company.")
    return company


@router.post("/companies", status_code=status.HTTP_201_CREATED, tags=["plans"])
async def create_company(
    body: CompanyCreate,
    principal: Principal = Depends(require("plans:write")),
    session: AsyncSession = Depends(get_session),
) -> CompanyOut:
    company = Company(
        gym_id=principal.gym_id, name=body.name, rfc=body.rfc, email=body.email, created_at=utcnow()
    )
    session.add(company)
    await session.flush()
    return CompanyOut.model_validate(company)


@router.get("/companies", tags=["plans"])
async def list_companies(
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("plans:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[CompanyOut]:
    stmt = select(Company).where(Company.gym_id == principal.gym_id)
    rows, cursor = await paginate(session, stmt, page, (Company.id,), descending=False)
    return Page(items=[CompanyOut.model_validate(c) for c in rows], next_cursor=cursor)


# --- reports and runs -----------------------------------------------------------------------


def _month(value: str, field: str) -> date:
    match = MONTH.match(value)
    if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInput(
            f"{field} debe ser un mes como 2026-10.",
            f"{field} must be a month like 2026-10.",
            {"field": field},
        )
    return date(int(match[1]), int(match[2]), 1)


@router.get("/reports/revenue", tags=["reports"])
async def revenue(
    first: str = Query(..., alias="from", description="First month, YYYY-MM."),
    last: str = Query(..., alias="to", description="Last month, YYYY-MM."),
    principal: Principal = Depends(require("reports:read")),
    session: AsyncSession = Depends(get_session),
) -> RevenueOut:
    """MRR, active members, new/churned, invoiced/collected, recognized/deferred, AR aging."""
    start, end = _month(first, "from"), _month(last, "to")
    if end < start or (end.year - start.year) * 12 + end.month - start.month > 36:
        raise InvalidInput(
            "El rango va de 1 a 36 meses y 'to' no puede ser antes de 'from'.",
            "The range spans 1 to 36 months and 'to' cannot precede 'from'.",
        )
    gym = await _gym(session, principal)
    report = await reports.revenue_report(
        session, gym.id, ZoneInfo(gym.timezone), start, end, utcnow()
    )
    return RevenueOut.model_validate(report, from_attributes=True)


@router.post("/billing/run", tags=["reports"])
async def run_billing(
    request: Request,
    principal: Principal = Depends(require("invoices:write")),
    session: AsyncSession = Depends(get_session),
) -> BillingRunOut:
    """Run this gym's billing cycle and dunning now (they also run on a schedule)."""
    # The runs use their own transactions, one per chunk; end the request's (it only
    # authenticated) so that on SQLite, where a transaction holds the write lock, they
    # do not wait on it.
    await session.commit()
    rt, now = _runtime(request), utcnow()
    cycle = await run_cycle(rt.sessionmaker, rt.payments, now, gym_id=principal.gym_id)
    dunning = await run_dunning(
        rt.sessionmaker,
        rt.payments,
        now,
        gym_id=principal.gym_id,
        templates=rt.settings.whatsapp_templates,
    )
    return BillingRunOut(cycle=cycle.as_dict(), dunning=dunning.as_dict())
