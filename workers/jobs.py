"""Job functions: thin wrappers that call a backend service. The same functions run on arq
workers (`gogym worker`) and in-process in the embedded mode."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.billing.cycle import run_cycle
from backend.billing.dunning import run_dunning
from backend.cfdi import tasks as cfdi_tasks
from backend.classes import tasks as class_tasks
from backend.db import transaction
from backend.jobs import JobFunction
from backend.members.partitions import ensure_partitions
from backend.messaging.service import due_outbox_ids
from backend.messaging.service import send_outbox_message as send_one
from backend.payments import tasks as payment_tasks
from backend.payments.accounts import AccountDirectory
from backend.payments.notifications import PROCESSING_SLOTS, process_notification
from backend.payments.wiring import build_accounts
from backend.referrals import rewards as referral_rewards
from backend.runtime import Runtime
from backend.types import utcnow


async def send_outbox_message(ctx: dict[str, Any], outbox_id: int) -> str:
    rt: Runtime = ctx["runtime"]
    return await send_one(
        rt.sessionmaker,
        rt.sender,
        outbox_id,
        status_callback=rt.status_callback_url,
        max_attempts=rt.settings.outbox_max_attempts,
        clock=utcnow,
    )


async def flush_outbox(ctx: dict[str, Any]) -> int:
    """Send everything due (new messages whose kick was lost, and retries)."""
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        ids = await due_outbox_ids(session, utcnow())
    for outbox_id in ids:
        await send_outbox_message(ctx, outbox_id)
    return len(ids)


async def ensure_event_partitions(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await ensure_partitions(session, utcnow().date())


async def materialize_class_sessions(ctx: dict[str, Any]) -> int:
    """Turn the weekly class schedules into bookable sessions for the coming days."""
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await class_tasks.materialize_all(session, utcnow())


async def send_class_reminders(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await class_tasks.send_class_reminders(session, utcnow())


async def record_class_no_shows(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await class_tasks.record_no_shows(session, utcnow())


async def run_billing_cycle(ctx: dict[str, Any]) -> dict[str, int]:
    """Renew, convert trials, end canceled, invoice and charge cards; then dun."""
    rt: Runtime = ctx["runtime"]
    report = await run_cycle(rt.sessionmaker, rt.payments, utcnow())
    dunning = await run_dunning_all(ctx)
    return {**report.as_dict(), **{f"dunning_{k}": v for k, v in dunning.items()}}


async def run_dunning_all(ctx: dict[str, Any]) -> dict[str, int]:
    rt: Runtime = ctx["runtime"]
    report = await run_dunning(
        rt.sessionmaker, rt.payments, utcnow(), templates=rt.settings.whatsapp_templates
    )
    return report.as_dict()


async def referral_check(ctx: dict[str, Any], member_id: int) -> str | None:
    """After an invoice of `member_id` was paid: convert and reward their referral."""
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await referral_rewards.process_member(
            session, member_id, utcnow(), templates=rt.settings.whatsapp_templates
        )


async def referral_sweep(ctx: dict[str, Any]) -> int:
    """Convert and reward referrals whose friend paid without `settle` (billing cycle)."""
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await referral_rewards.sweep(
            session, utcnow(), templates=rt.settings.whatsapp_templates
        )


async def expire_referrals(ctx: dict[str, Any]) -> dict[str, int]:
    rt: Runtime = ctx["runtime"]
    async with transaction(rt.sessionmaker) as session:
        return await referral_rewards.expire(session, utcnow())


async def issue_cfdi_for_payment(ctx: dict[str, Any], payment_id: int) -> str:
    """Number, sign, stamp and send the CFDI of one applied payment (once)."""
    rt: Runtime = ctx["runtime"]
    return await cfdi_tasks.issue_for_payment(
        rt.sessionmaker, rt.settings, payment_id, clock=utcnow
    )


async def stamp_cfdi(ctx: dict[str, Any], document_id: int) -> str:
    rt: Runtime = ctx["runtime"]
    return await cfdi_tasks.stamp_document(rt.sessionmaker, rt.settings, document_id, clock=utcnow)


async def sweep_cfdi(ctx: dict[str, Any]) -> dict[str, int]:
    """CFDIs nobody enqueued (cash, bulk card charges, refunds) and due stamping retries."""
    rt: Runtime = ctx["runtime"]
    report = await cfdi_tasks.sweep(rt.sessionmaker, rt.settings, clock=utcnow)
    return report.as_dict()


async def issue_global_cfdis(ctx: dict[str, Any]) -> int:
    """Each gym's factura global for the period that just closed."""
    rt: Runtime = ctx["runtime"]
    return await cfdi_tasks.issue_globals(rt.sessionmaker, rt.settings, clock=utcnow)


def payment_accounts(ctx: dict[str, Any]) -> AccountDirectory:
    """The process's Mercado Pago account directory (built once if the root did not)."""
    if "payment_accounts" not in ctx:
        rt: Runtime = ctx["runtime"]
        ctx["payment_accounts"] = build_accounts(rt.settings, rt.sessionmaker)
    accounts: AccountDirectory = ctx["payment_accounts"]
    return accounts


async def process_payment_notification(ctx: dict[str, Any], notification_id: int) -> str:
    """Look a notified payment up at Mercado Pago and apply it (once). At most
    PROCESSING_SLOTS run at once per process, so a burst of webhooks cannot take every
    database connection from the webhook itself (arq bounds this with max_jobs too)."""
    rt: Runtime = ctx["runtime"]
    slots: asyncio.Semaphore = ctx.setdefault("payment_slots", asyncio.Semaphore(PROCESSING_SLOTS))
    async with slots:
        return await process_notification(
            rt.sessionmaker,
            rt.payments,
            payment_accounts(ctx),
            notification_id,
            utcnow(),
            rt.settings.whatsapp_templates,
        )


async def sweep_payment_notifications(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["runtime"]
    return await payment_tasks.sweep_notifications(
        rt.sessionmaker,
        rt.payments,
        payment_accounts(ctx),
        utcnow(),
        rt.settings.whatsapp_templates,
    )


async def reconcile_payments(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: payments at Mercado Pago vs our books; mismatches become staff alerts."""
    rt: Runtime = ctx["runtime"]
    report = await payment_tasks.reconcile_all(
        rt.sessionmaker, rt.payments, payment_accounts(ctx), utcnow()
    )
    return report.as_dict()


FUNCTIONS: dict[str, JobFunction] = {
    "run_billing_cycle": run_billing_cycle,
    "run_dunning": run_dunning_all,
    "send_outbox_message": send_outbox_message,
    "flush_outbox": flush_outbox,
    "ensure_event_partitions": ensure_event_partitions,
    "materialize_class_sessions": materialize_class_sessions,
    "send_class_reminders": send_class_reminders,
    "record_class_no_shows": record_class_no_shows,
    "issue_cfdi_for_payment": issue_cfdi_for_payment,
    "stamp_cfdi": stamp_cfdi,
    "sweep_cfdi": sweep_cfdi,
    "issue_global_cfdis": issue_global_cfdis,
    "referral_check": referral_check,
    "referral_sweep": referral_sweep,
    "expire_referrals": expire_referrals,
    "process_payment_notification": process_payment_notification,
    "sweep_payment_notifications": sweep_payment_notifications,
    "reconcile_payments": reconcile_payments,
}
