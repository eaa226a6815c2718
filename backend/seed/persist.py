"""Writing member drafts to the database: bulk inserts, invoice numbers and event partitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Subscription
from backend.billing.numbering import take_numbers
from backend.billing.tax import split_iva
from backend.checkins.models import CheckIn
from backend.db import Base
from backend.members.models import Member, MemberEvent
from backend.members.partitions import partition_ddl
from backend.seed.model import GymContext, InvoiceDraft, MemberDraft, SeedResult, Visit

INVOICE_SERIES = "A"
CHUNK_ROWS = 2000


async def persist(
    session: AsyncSession, ctx: GymContext, drafts: Sequence[MemberDraft]
) -> SeedResult:
    """Insert the drafts' members, subscriptions, invoices, check-ins and events in bulk."""
    if not drafts:
        return SeedResult(ctx.gym_id, None, None, 0, 0, 0)
    gym_id = ctx.gym_id
    member_rows = [_member_row(gym_id, d) for d in drafts]
    member_ids = await _insert_ids(session, _table(Member), "phone", member_rows)
    sub_rows = [_subscription_row(gym_id, d, m) for d, m in zip(drafts, member_ids, strict=True)]
    sub_ids = await _insert_ids(session, _table(Subscription), "member_id", sub_rows)
    owners = [
        (inv, member_id, sub_id)
        for d, member_id, sub_id in zip(drafts, member_ids, sub_ids, strict=True)
        for inv in d.invoices
    ]
    owners.sort(key=lambda row: row[0].issued_at)  # numbers follow issue order
    numbers = await take_numbers(session, gym_id, INVOICE_SERIES, len(owners))
    invoice_rows = [
        _invoice_row(gym_id, inv, member_id, sub_id, number)
        for number, (inv, member_id, sub_id) in zip(numbers, owners, strict=True)
    ]
    invoice_ids = await _insert_ids(session, _table(Invoice), "number", invoice_rows)

    check_ins: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for d, member_id, sub_id in zip(drafts, member_ids, sub_ids, strict=True):
        joined = {
            "plan_id": d.plan.id,
            "subscription_id": sub_id,
            "location_id": d.home_location_id,
        }
        events.append(_event(gym_id, member_id, "joined", d.joined_at, joined))
        for v in d.visits:
            check_ins.append(_check_in_row(gym_id, member_id, v))
            events.append(_event(gym_id, member_id, "visit", v.at, {"location_id": v.location_id}))
        if d.canceled_at is not None:
            data = {"subscription_id": sub_id, "plan_id": d.plan.id}
            events.append(_event(gym_id, member_id, "canceled", d.canceled_at, data))
    for (inv, member_id, _), invoice_id in zip(owners, invoice_ids, strict=True):
        if inv.paid_at is not None:
            data = {"invoice_id": invoice_id, "amount_cents": inv.total_cents}
            events.append(_event(gym_id, member_id, "payment", inv.paid_at, data))
    check_ins.sort(key=lambda row: row["checked_in_at"])
    events.sort(key=lambda row: row["occurred_at"])
    await _ensure_event_partitions(session, events[0]["occurred_at"], events[-1]["occurred_at"])
    await _insert_many(session, _table(CheckIn), check_ins)
    await _insert_many(session, _table(MemberEvent), events)
    return SeedResult(gym_id, None, None, len(drafts), len(check_ins), len(invoice_ids))


async def _insert_ids(
    session: AsyncSession, table: Table, key: str, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their ids in row order, matched on a column unique in `rows`."""
    # Matching on a key, not on RETURNING order: SQLite cannot promise that order for a
    # multi-row insert, and SQLAlchemy would then fall back to one statement per row.
    stmt = insert(table).returning(table.c.id, table.c[key])
    ids: dict[Any, int] = {}
    for i in range(0, len(rows), CHUNK_ROWS):
        result = await session.execute(stmt, rows[i : i + CHUNK_ROWS])
        ids.update((row_key, row_id) for row_id, row_key in result.tuples())
    return [ids[row[key]] for row in rows]


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


async def _insert_many(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK_ROWS):
        await session.execute(insert(table), rows[i : i + CHUNK_ROWS])


async def _ensure_event_partitions(session: AsyncSession, first: datetime, last: datetime) -> None:
    """On PostgreSQL, give every month we write events into its own partition."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # Partition bounds are dates read in the server's zone: pad a day so edge months exist too.
    first, last = first - timedelta(days=1), last + timedelta(days=1)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        name = f"member_events_{year:04d}_{month:02d}"
        exists = await session.scalar(text("SELECT to_regclass(:name)"), {"name": name})
        if exists is None:
            await session.execute(text(partition_ddl(year, month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _member_row(gym_id: int, d: MemberDraft) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "phone": d.phone,
        "whatsapp_address": "whatsapp:+521" + d.phone.removeprefix("+52"),
        "name": d.name,
        "locale": "es",
        "status": d.member_status,
        "home_location_id": d.home_location_id,
        "marketing_opt_in": d.marketing_opt_in,
        "marketing_opt_in_at": d.joined_at if d.marketing_opt_in else None,
        "biometrics_opt_in": False,
        "biometrics_opt_in_at": None,
        "created_at": d.joined_at,
    }


def _subscription_row(gym_id: int, d: MemberDraft, member_id: int) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "plan_id": d.plan.id,
        "status": d.sub_status,
        "current_period_start": d.period_start,
        "current_period_end": d.period_end,
        "cancel_at_period_end": d.canceled_at is not None,
        "canceled_at": d.canceled_at,
        "ended_at": d.period_end if d.sub_status in ("canceled", "expired") else None,
        "past_due_since": d.past_due_since,
        "created_at": d.joined_at,
        "updated_at": d.joined_at,
    }


def _invoice_row(
    gym_id: int, inv: InvoiceDraft, member_id: int, sub_id: int, number: str
) -> dict[str, Any]:
    subtotal, tax = split_iva(inv.total_cents)
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "subscription_id": sub_id,
        "number": number,
        "status": inv.status,
        "subtotal_cents": subtotal,
        "tax_cents": tax,
        "total_cents": inv.total_cents,
        "credit_applied_cents": 0,
        "amount_due_cents": inv.total_cents if inv.status == "open" else 0,
        "reason": "renewal",
        "charge_attempts": 0,
        "period_start": inv.period_start,
        "period_end": inv.period_end,
        "issued_at": inv.issued_at,
        "due_at": inv.due_at,
        "paid_at": inv.paid_at,
    }


def _check_in_row(gym_id: int, member_id: int, v: Visit) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "location_id": v.location_id,
        "method": v.method,
        "checked_in_at": v.at,
        "latitude": v.latitude,
        "longitude": v.longitude,
    }


def _event(
    gym_id: int, member_id: int, kind: str, at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return {"gym_id": gym_id, "member_id": member_id, "kind": kind, "occurred_at": at, "data": data}
