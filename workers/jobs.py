"""Job functions: thin wrappers that call a backend service. The same functions run on arq
workers (`gogym worker`) and in-process in the embedded mode."""

from __future__ import annotations

from typing import Any

from backend.billing.cycle import run_cycle
from backend.billing.dunning import run_dunning
from backend.classes import tasks as class_tasks
from backend.db import transaction
from backend.jobs import JobFunction
from backend.members.partitions import ensure_partitions
from backend.messaging.service import due_outbox_ids
from backend.messaging.service import send_outbox_message as send_one
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


FUNCTIONS: dict[str, JobFunction] = {
    "run_billing_cycle": run_billing_cycle,
    "run_dunning": run_dunning_all,
    "send_outbox_message": send_outbox_message,
    "flush_outbox": flush_outbox,
    "ensure_event_partitions": ensure_event_partitions,
    "materialize_class_sessions": materialize_class_sessions,
    "send_class_reminders": send_class_reminders,
    "record_class_no_shows": record_class_no_shows,
}
