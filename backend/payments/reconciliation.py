"""Daily reconciliation: payments at Mercado Pago against our books.

Differences become staff alerts (one per payment and kind, so daily runs don't repeat
them): approved at the provider but not applied here (`missing_locally`), a status that
differs (`status_mismatch`), or a payment we count that the provider does not show
(`missing_at_provider`). Nothing is changed automatically: staff decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice
from backend.payments.accounts import AccountDirectory
from backend.payments.alerts import raise_alert
from backend.payments.models import Payment, PaymentRequest
from backend.payments.provider import MerchantAccount, PaymentProvider, PaymentSearch

RECONCILIATION_KINDS = ("missing_locally", "status_mismatch", "missing_at_provider")
WINDOW = timedelta(days=3)


@dataclass
class ReconciliationReport:
    checked: int = 0
    missing_locally: int = 0
    status_mismatch: int = 0
    missing_at_provider: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def _gym_of(session: AsyncSession, reference: str) -> int | None:
    if reference.startswith("gg:"):
        return await session.scalar(
            select(PaymentRequest.gym_id).where(PaymentRequest.external_reference == reference)
        )
    if reference.startswith("invoice:") and reference[8:].isdigit():
        return await session.scalar(select(Invoice.gym_id).where(Invoice.id == int(reference[8:])))
    return None


async def reconcile(
    session: AsyncSession,
    provider: PaymentProvider,
    accounts: AccountDirectory,
    now: datetime,
    window: timedelta = WINDOW,
) -> ReconciliationReport:
    report = ReconciliationReport()
    own = await accounts.own_account_gyms()
    for account in await accounts.accounts():
        await _reconcile_account(session, provider, account, own, now - window, now, report)
    return report


async def _reconcile_account(
    session: AsyncSession,
    provider: PaymentProvider,
    account: MerchantAccount,
    own_account_gyms: set[int],
    since: datetime,
    until: datetime,
    report: ReconciliationReport,
) -> None:
    remote = await provider.search_payments(PaymentSearch(account.gym_id, since, until))
    local_query = select(Payment).where(
        Payment.provider == provider.name,
        Payment.created_at >= since,
        Payment.provider_payment_id.isnot(None),
    )
    if account.gym_id is not None:
        local_query = local_query.where(Payment.gym_id == account.gym_id)
    elif own_account_gyms:
        local_query = local_query.where(Payment.gym_id.not_in(own_account_gyms))
    local = {p.provider_payment_id: p for p in (await session.scalars(local_query)).all()}
    seen: set[str] = set()
    for found in remote:
        report.checked += 1
        seen.add(found.id)
        mine = local.get(found.id)
        if mine is None:
            mine = await session.scalar(
                select(Payment).where(
                    Payment.provider == provider.name, Payment.provider_payment_id == found.id
                )
            )
        gym_id = mine.gym_id if mine else await _gym_of(session, found.external_reference)
        gym_id = gym_id or account.gym_id
        if gym_id is None:
            continue
        amount = f"${found.amount_cents / 100:,.2f}"
        if mine is None or (
            found.status == "approved" and mine.applied_at is None and mine.held_reason is None
        ):
            if found.status != "approved":
                continue
            if await raise_alert(
                session,
                gym_id=gym_id,
                kind="missing_locally",
                subject=found.id,
                message=f"Pago {found.id} ({amount}) aprobado en Mercado Pago y sin aplicar aquí",
                now=until,
                payment_id=mine.id if mine else None,
                data={"external_reference": found.external_reference},
            ):
                report.missing_locally += 1
        elif mine.status != found.status and await raise_alert(
            session,
            gym_id=gym_id,
            kind="status_mismatch",
            subject=f"{found.id}:{found.status}",
            message=f"Pago {found.id}: {found.status} en Mercado Pago, {mine.status} aquí",
            now=until,
            payment_id=mine.id,
            invoice_id=mine.invoice_id,
        ):
            report.status_mismatch += 1
    for provider_id, mine in local.items():
        if provider_id in seen or mine.status != "approved" or provider_id is None:
            continue
        if await raise_alert(
            session,
            gym_id=mine.gym_id,
            kind="missing_at_provider",
            subject=provider_id,
            message=f"Pago {provider_id} aprobado aquí y no encontrado en Mercado Pago",
            now=until,
            payment_id=mine.id,
            invoice_id=mine.invoice_id,
        ):
            report.missing_at_provider += 1
