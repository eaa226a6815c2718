"""Job functions: thin wrappers that call a backend service. The same functions run on arq
workers (`gogym worker`) and in-process in the embedded mode."""

from __future__ import annotations

from typing import Any

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


FUNCTIONS: dict[str, JobFunction] = {
    "send_outbox_message": send_outbox_message,
    "flush_outbox": flush_outbox,
    "ensure_event_partitions": ensure_event_partitions,
}
