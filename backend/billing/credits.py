"""Balance credits: a ledger per member; grants positive, uses negative."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import CreditEntry
from backend.errors import Conflict, InvalidInput
from backend.members.service import audit, record_event

MAX_GRANT_CENTS = 10_000_000  # $100,000 MXN: anything above is a typo, not goodwill


async def balance(session: AsyncSession, gym_id: int, member_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_cents), 0)).where(
            CreditEntry.gym_id == gym_id, CreditEntry.member_id == member_id
        )
    )
    return int(total or 0)


async def balances(session: AsyncSession, gym_id: int, member_ids: Iterable[int]) -> dict[int, int]:
    """Positive balances of many members at once (members without credit are absent)."""
    ids = list(member_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(CreditEntry.member_id, func.sum(CreditEntry.amount_cents))
        .where(CreditEntry.gym_id == gym_id, CreditEntry.member_id.in_(ids))
        .group_by(CreditEntry.member_id)
    )
    return {m: int(total) for m, total in rows.tuples() if total and total > 0}


async def grant(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int,
    amount_cents: int,
    reason: str,
    actor: str,
    now: datetime,
    note: str = "",
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Add balance credit; with an idempotency key a repeated grant returns the first one."""
    if amount_cents <= 0 or amount_cents > MAX_GRANT_CENTS:
        raise InvalidInput(
            "El saldo a favor debe ser mayor a $0 y menor a $100,000.",
            "Credit must be above $0 and below $100,000.",
        )
    if idempotency_key:
        existing = await session.scalar(
            select(CreditEntry).where(CreditEntry.idempotency_key == idempotency_key)
        )
        if existing is not None:
            if existing.member_id != member_id or existing.gym_id != gym_id:
                raise Conflict("Ese movimiento ya existe.", "That credit entry already exists.")
            return existing
    entry = CreditEntry(
        gym_id=gym_id,
        member_id=member_id,
        amount_cents=amount_cents,
        reason=reason,
        note=note[:200],
        idempotency_key=idempotency_key,
        created_by=actor,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    await record_event(
        session, gym_id, member_id, "credit_granted", {"amount_cents": amount_cents}, now
    )
    await audit(
        session,
        gym_id,
        actor,
        "credit.granted",
        "credit_entry",
        entry.id,
        {"amount_cents": amount_cents, "reason": reason},
    )
    return entry


def use_entry(gym_id: int, member_id: int, invoice_id: int, amount: int, now: datetime) -> dict:
    """The ledger row (as insert values) for credit applied to an invoice."""
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "amount_cents": -amount,
        "reason": "applied",
        "invoice_id": invoice_id,
        "note": "",
        "idempotency_key": f"applied:{invoice_id}",
        "created_by": "system",
        "created_at": now,
    }
