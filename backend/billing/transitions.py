"""The subscription state machine: which status may follow which, recorded every time.

trialing ─> active ─> past_due ─> suspended ─> canceled | expired
    │         │  ^        │            │
    │         v  │        └── paid ────┴──> active
    │       paused ─> active
    └─> canceled | expired   (cancel at period end → canceled; a trial not converted
                               → expired)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Subscription
from backend.errors import Conflict
from backend.members.service import audit, record_event

ALLOWED: dict[str, frozenset[str]] = {
    "trialing": frozenset({"active", "past_due", "canceled", "expired"}),
    "active": frozenset({"past_due", "paused", "canceled", "expired"}),
    "past_due": frozenset({"active", "suspended", "canceled", "expired"}),
    "suspended": frozenset({"active", "canceled", "expired"}),
    "paused": frozenset({"active", "canceled", "expired"}),
    "canceled": frozenset(),
    "expired": frozenset(),
}

STATUS_ES = {
    "trialing": "en prueba",
    "active": "activa",
    "past_due": "con pago pendiente",
    "suspended": "suspendida",
    "paused": "congelada",
    "canceled": "cancelada",
    "expired": "vencida",
}


class InvalidTransition(Conflict):
    code = "invalid_transition"


def check(sub: Subscription, new_status: str) -> None:
    if new_status not in ALLOWED.get(sub.status, frozenset()):
        raise InvalidTransition(
            f"Una membresía {STATUS_ES.get(sub.status, sub.status)} no puede pasar a "
            f"{STATUS_ES.get(new_status, new_status)}.",
            f"A {sub.status} subscription cannot become {new_status}.",
            {"from": sub.status, "to": new_status},
        )


async def transition(
    session: AsyncSession,
    sub: Subscription,
    new_status: str,
    *,
    actor: str,
    now: datetime,
    why: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Move `sub` to `new_status` (or raise InvalidTransition); event + audit row."""
    check(sub, new_status)
    old = sub.status
    sub.status = new_status
    sub.updated_at = now
    if new_status in ("canceled", "expired"):
        sub.ended_at = now
    if new_status in ("active", "canceled", "expired"):
        sub.past_due_since = None
    payload = {"subscription_id": sub.id, "from": old, "to": new_status, "why": why}
    payload.update(data or {})
    await record_event(
        session, sub.gym_id, sub.member_id, f"subscription_{new_status}", payload, now
    )
    await audit(
        session, sub.gym_id, actor, f"subscription.{new_status}", "subscription", sub.id, payload
    )


def transition_rows(
    sub_id: int, gym_id: int, member_id: int, old: str, new: str, why: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Event and audit rows for a transition done in bulk (the billing cycle)."""
    payload = {"subscription_id": sub_id, "from": old, "to": new, "why": why}
    event = {
        "gym_id": gym_id,
        "member_id": member_id,
        "kind": f"subscription_{new}",
        "occurred_at": now,
        "data": payload,
    }
    audit_row = {
        "gym_id": gym_id,
        "actor": "system",
        "action": f"subscription.{new}",
        "entity": "subscription",
        "entity_id": sub_id,
        "data": payload,
        "created_at": now,
    }
    return event, audit_row
