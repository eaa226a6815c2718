"""The billing cycle: renew what is due, convert trials, end what was canceled, invoice and
charge saved cards — in chunks, set-based, safe to run twice or concurrently.

Each chunk is its own transaction: the selected subscriptions are locked (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so concurrent runs split the work), every invoice carries an
idempotency key per subscription and period, and card charges use keys derived from the
invoice, so a chunk retried after a crash neither invoices nor charges twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.invoices import InvoiceDraft, Issued, LineDraft, issue_invoices
from backend.billing.models import Invoice, Plan, Subscription, SubscriptionAddon
from backend.billing.periods import period_end
from backend.billing.policy import BillingPolicy, policy_of
from backend.billing.service import TRIAL_PLAN_CODE
from backend.billing.subscriptions import period_lines
from backend.billing.transitions import transition_rows
from backend.db import transaction
from backend.gyms.models import Gym
from backend.members.models import AuditEntry, MemberEvent
from backend.payments.models import Payment
from backend.payments.provider import ChargeResult, PaymentProvider
from backend.payments.service import (
    Billable,
    charge_key,
    charge_request,
    default_methods,
    payment_row,
)

RENEWABLE = ("trialing", "active", "past_due", "suspended")
CHARGE_CONCURRENCY = 16


@dataclass
class CycleReport:
    renewed: int = 0
    trials_converted: int = 0
    canceled: int = 0
    expired: int = 0
    resumed: int = 0
    invoices: int = 0
    charged: int = 0
    declined: int = 0
    collected_cents: int = 0
    chunks: int = 0
    invoice_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def _due(now: datetime, gym_id: int | None) -> Any:
    query = (
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            or_(
                and_(Subscription.status.in_(RENEWABLE), Subscription.current_period_end <= now),
                and_(Subscription.status == "paused", Subscription.resume_at <= now),
            )
        )
        .order_by(Subscription.id)
    )
    return query.where(Subscription.gym_id == gym_id) if gym_id is not None else query


async def run_cycle(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    now: datetime,
    *,
    gym_id: int | None = None,
    chunk_size: int = 1000,
) -> CycleReport:
    """Process every due subscription, chunk by chunk in id order, until none is left.

    Walking by id (not re-querying from the start) keeps each chunk's query an index range
    scan, and a subscription renewed into a period that is still past is left for the next
    run instead of looping here.
    """
    report = CycleReport()
    after = 0
    while True:
        async with transaction(sessionmaker) as session:
            last = await _run_chunk(session, provider, now, gym_id, chunk_size, after, report)
        if last is None:
            return report
        report.chunks += 1
        after = last


async def _run_chunk(
    session: AsyncSession,
    provider: PaymentProvider,
    now: datetime,
    gym_id: int | None,
    chunk_size: int,
    after: int,
    report: CycleReport,
) -> int | None:
    """One chunk in one transaction; the last subscription id it saw, None when done."""
    query = _due(now, gym_id).where(Subscription.id > after).limit(chunk_size)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Subscription)
    rows = (await session.execute(query)).tuples().all()
    if not rows:
        return None
    gyms = {
        g.id: g
        for g in (
            await session.scalars(select(Gym).where(Gym.id.in_({s.gym_id for s, _ in rows})))
        ).all()
    }
    for gid in gyms:
        await _process_gym(
            session, provider, gyms[gid], [(s, p) for s, p in rows if s.gym_id == gid], now, report
        )
    return rows[-1][0].id


async def _process_gym(
    session: AsyncSession,
    provider: PaymentProvider,
    gym: Gym,
    rows: Sequence[tuple[Subscription, Plan]],
    now: datetime,
    report: CycleReport,
) -> None:
    tz, policy = ZoneInfo(gym.timezone), policy_of(gym.billing_settings)
    addons = await _addons(session, [s.id for s, _ in rows])
    plans: dict[int, Plan] = {p.id: p for _, p in rows}
    wanted = {s.pending_plan_id for s, _ in rows if s.pending_plan_id}
    wanted |= {plan_id for ids in addons.values() for plan_id in ids}
    if wanted - plans.keys():
        for plan in (await session.scalars(select(Plan).where(Plan.id.in_(wanted)))).all():
            plans[plan.id] = plan
    events: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    drafts: list[InvoiceDraft] = []

    def move(sub: Subscription, new: str, why: str) -> None:
        event, audit_row = transition_rows(sub.id, gym.id, sub.member_id, sub.status, new, why, now)
        events.append(event)
        audits.append(audit_row)
        sub.status, sub.updated_at = new, now
        if new in ("canceled", "expired"):
            sub.ended_at = now
        if new == "active":
            sub.past_due_since = None

    for sub, plan in rows:
        if sub.status == "paused":
            assert sub.paused_at is not None and sub.resume_at is not None
            frozen = sub.resume_at - sub.paused_at
            sub.current_period_end += timedelta(days=frozen.days + (1 if frozen.seconds else 0))
            sub.paused_at = sub.resume_at = None
            move(sub, "active", "freeze ended")
            report.resumed += 1
        elif sub.cancel_at_period_end:
            move(sub, "canceled", sub.cancel_reason or "canceled at period end")
            report.canceled += 1
        elif plan.interval == "day" or plan.code == TRIAL_PLAN_CODE or sub.status == "suspended":
            move(sub, "expired", "pass ended" if sub.status != "suspended" else "unpaid")
            report.expired += 1
        else:
            converting = sub.status == "trialing"
            if sub.pending_plan_id and sub.pending_plan_id in plans:
                plan = plans[sub.pending_plan_id]
                sub.plan_id, sub.pending_plan_id = plan.id, None
            drafts.append(_renewal(sub, plan, plans, addons, tz, policy, converting))
            if converting:
                move(sub, "active", "trial converted")
                report.trials_converted += 1
            else:
                report.renewed += 1

    issued = await issue_invoices(session, gym.id, policy.series, drafts, now)
    report.invoices += len(issued)
    for key, inv in issued.items():
        report.invoice_ids.append(inv.id)
        events.append(
            _event(gym.id, inv.member_id, "invoice_issued", now, {"invoice_id": inv.id, "key": key})
        )
        audits.append(_audit(gym.id, "invoice.issued", inv.id, {"number": inv.number}, now))
    await _charge(session, provider, gym, drafts, issued, now, events, audits, report)
    await session.flush()  # the subscription updates, as one executemany
    if events:
        await session.execute(insert(MemberEvent), events)
    if audits:
        await session.execute(insert(AuditEntry), audits)


def _renewal(
    sub: Subscription,
    plan: Plan,
    plans: dict[int, Plan],
    addons: dict[int, list[int]],
    tz: ZoneInfo,
    policy: BillingPolicy,
    first: bool,
) -> InvoiceDraft:
    start = sub.current_period_end
    end = period_end(start, plan.interval, plan.interval_count, tz)
    sub.current_period_start, sub.current_period_end = start, end
    sub.class_credits_remaining = plan.class_credits
    lines = period_lines(plan, start, end, first=first)
    for addon_id in addons.get(sub.id, []):
        addon = plans.get(addon_id)
        if addon is not None and addon.active:
            lines.append(
                LineDraft("addon", addon.name, addon.price_at(start), 1, addon.id, start, end)
            )
    return InvoiceDraft(
        member_id=sub.member_id,
        reason="trial_conversion" if first else "renewal",
        due_at=start + timedelta(days=policy.due_days),
        lines=lines,
        idempotency_key=f"renewal:{sub.id}:{start.isoformat()}",
        subscription_id=sub.id,
        company_id=sub.company_id,
        period_start=start,
        period_end=end,
        apply_credit=sub.company_id is None,
    )


async def _addons(session: AsyncSession, sub_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    rows = await session.execute(
        select(SubscriptionAddon.subscription_id, SubscriptionAddon.plan_id).where(
            SubscriptionAddon.subscription_id.in_(sub_ids)
        )
    )
    for sub_id, plan_id in rows.tuples():
        found.setdefault(sub_id, []).append(plan_id)
    return found


async def _charge(
    session: AsyncSession,
    provider: PaymentProvider,
    gym: Gym,
    drafts: Sequence[InvoiceDraft],
    issued: dict[str, Issued],
    now: datetime,
    events: list[dict[str, Any]],
    audits: list[dict[str, Any]],
    report: CycleReport,
) -> None:
    """Charge the default card of every member whose new invoice still has an amount due."""
    payable = [
        issued[d.idempotency_key]
        for d in drafts
        if d.idempotency_key in issued
        and d.company_id is None
        and issued[d.idempotency_key].amount_due_cents > 0
    ]
    methods = await default_methods(session, gym.id, [i.member_id for i in payable])
    targets = [(inv, methods[inv.member_id]) for inv in payable if inv.member_id in methods]
    if not targets:
        return
    limit = asyncio.Semaphore(CHARGE_CONCURRENCY)

    async def one(inv: Issued, method: Any) -> ChargeResult:
        async with limit:
            row = _billable(gym.id, inv)
            return await provider.charge_saved_card(
                charge_request(row, method, charge_key(inv.id, 0))
            )

    results = await asyncio.gather(*(one(inv, m) for inv, m in targets))
    payments, invoice_updates = [], []
    for (inv, method), result in zip(targets, results, strict=True):
        payments.append(
            payment_row(
                _billable(gym.id, inv),
                method,
                result,
                charge_key(inv.id, 0),
                provider.name,
                now,
            )
        )
        approved = result.status == "approved"
        update_row: dict[str, Any] = {
            "id": inv.id,
            "charge_attempts": 1,
            "last_charge_attempt_at": now,
        }
        if approved:
            update_row.update(status="paid", paid_at=now, amount_due_cents=0)
            report.charged += 1
            report.collected_cents += inv.amount_due_cents
            audits.append(_audit(gym.id, "invoice.paid", inv.id, {"method": "card"}, now))
        else:
            report.declined += 1
        invoice_updates.append(update_row)
        events.append(
            _event(
                gym.id,
                inv.member_id,
                f"payment_{result.status}",
                now,
                {"invoice_id": inv.id, "amount_cents": inv.amount_due_cents, "method": "card"},
            )
        )
    await session.execute(insert(Payment), payments)
    for keys in _group_by_keys(invoice_updates):
        await session.execute(update(Invoice), keys)


def _group_by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """ORM bulk UPDATE wants rows with the same keys in one call."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _billable(gym_id: int, inv: Issued) -> Billable:
    return Billable(inv.id, gym_id, inv.member_id, inv.number, inv.amount_due_cents)


def _event(
    gym_id: int, member_id: int, kind: str, now: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "kind": kind,
        "occurred_at": now,
        "data": data,
    }


def _audit(
    gym_id: int, action: str, invoice_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "actor": "system",
        "action": action,
        "entity": "invoice",
        "entity_id": invoice_id,
        "data": data,
        "created_at": now,
    }
