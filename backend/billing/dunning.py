"""Dunning: remind, retry the card, suspend after the grace, per the gym's schedule.

Every step is recorded in `dunning_notices` under a unique (invoice, action, day), inserted
before the step is done, so a run repeated or run concurrently does each step once. When
runs were missed, only the latest reminder due is sent (older ones are marked skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.models import DunningNotice, Invoice, Subscription
from backend.billing.policy import BillingPolicy, policy_of
from backend.billing.transitions import transition
from backend.db import transaction
from backend.format import day as day_text
from backend.format import money
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.messaging.notify import notify_member
from backend.payments.provider import PaymentProvider
from backend.payments.service import charge_invoice

BATCH = 200


@dataclass
class DunningReport:
    reminders: int = 0
    retries: int = 0
    recovered: int = 0
    past_due: int = 0
    suspended: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def days_overdue(due_at: datetime, now: datetime, tz: ZoneInfo) -> int:
    return (now.astimezone(tz).date() - due_at.astimezone(tz).date()).days


async def run_dunning(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    now: datetime,
    *,
    gym_id: int | None = None,
    templates: dict[str, str] | None = None,
) -> DunningReport:
    """Walk every open invoice that is due, one transaction per batch."""
    report = DunningReport()
    after = 0
    while True:
        async with transaction(sessionmaker) as session:
            query = (
                select(Invoice.id)
                .where(
                    Invoice.status == "open",
                    Invoice.due_at <= now,
                    Invoice.amount_due_cents > 0,
                    Invoice.id > after,
                )
                .order_by(Invoice.id)
                .limit(BATCH)
            )
            if gym_id is not None:
                query = query.where(Invoice.gym_id == gym_id)
            ids = list((await session.scalars(query)).all())
            for invoice_id in ids:
                await dun_invoice(session, provider, invoice_id, now, report, templates or {})
        if len(ids) < BATCH:
            return report
        after = ids[-1]


async def _claim(
    session: AsyncSession, invoice: Invoice, action: str, day: int, now: datetime
) -> bool:
    """Record a step before doing it; False when it was already done."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = await session.scalar(
        insert(DunningNotice)
        .values(gym_id=invoice.gym_id, invoice_id=invoice.id, action=action, day=day, done_at=now)
        .on_conflict_do_nothing()
        .returning(DunningNotice.id)
    )
    return claimed is not None


async def _outcome(
    session: AsyncSession, invoice_id: int, action: str, day: int, text: str
) -> None:
    notice = await session.scalar(
        select(DunningNotice).where(
            DunningNotice.invoice_id == invoice_id,
            DunningNotice.action == action,
            DunningNotice.day == day,
        )
    )
    if notice is not None:
        notice.outcome = text[:40]


async def dun_invoice(
    session: AsyncSession,
    provider: PaymentProvider,
    invoice_id: int,
    now: datetime,
    report: DunningReport,
    templates: dict[str, str],
) -> None:
    query = select(Invoice).where(Invoice.id == invoice_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    invoice = await session.scalar(query)
    if invoice is None or invoice.status != "open":
        return
    gym = await session.get(Gym, invoice.gym_id)
    member = await session.get(Member, invoice.member_id)
    assert gym is not None and member is not None
    tz, policy = ZoneInfo(gym.timezone), policy_of(gym.billing_settings)
    day = days_overdue(invoice.due_at, now, tz)
    sub = (
        await session.get(Subscription, invoice.subscription_id)
        if invoice.subscription_id
        else None
    )
    if sub is not None and sub.status == "active" and invoice.company_id is None:
        sub.past_due_since = invoice.due_at
        await transition(session, sub, "past_due", actor="system", now=now, why=invoice.number)
        report.past_due += 1

    # Card retries first: a recovered payment needs no reminder.
    retry_days = [d for d in policy.dunning.retry_days if d <= day]
    if retry_days and await _claim(session, invoice, "retry", retry_days[-1], now):
        payment = await charge_invoice(session, provider, invoice, actor="system", now=now)
        await _outcome(
            session, invoice.id, "retry", retry_days[-1], payment.status if payment else "no card"
        )
        if payment is not None:
            report.retries += 1
            if payment.status == "approved":
                report.recovered += 1
                await notify_member(
                    session,
                    gym=gym,
                    member=member,
                    now=now,
                    body=_paid_text(member, invoice),
                    quiet_hours=_quiet(policy),
                    template_sid=templates.get("payment_received"),
                    template_values={"1": member.name or "", "2": money(invoice.total_cents)},
                )
                return

    reminder_days = [d for d in policy.dunning.reminder_days if d <= day]
    if reminder_days:
        latest = reminder_days[-1]
        for older in reminder_days[:-1]:
            if await _claim(session, invoice, "reminder", older, now):
                await _outcome(session, invoice.id, "reminder", older, "skipped")
        if await _claim(session, invoice, "reminder", latest, now):
            suspend_on = policy.dunning.grace_days - day
            await notify_member(
                session,
                gym=gym,
                member=member,
                now=now,
                body=_reminder_text(member, invoice, day, suspend_on, tz),
                quiet_hours=_quiet(policy),
                template_sid=templates.get("payment_reminder"),
                template_values={
                    "1": member.name or "",
                    "2": money(invoice.amount_due_cents),
                    "3": invoice.number,
                },
            )
            report.reminders += 1

    if (
        sub is not None
        and day >= policy.dunning.grace_days
        and sub.status == "past_due"
        and await _claim(session, invoice, "suspend", policy.dunning.grace_days, now)
    ):
        await transition(session, sub, "suspended", actor="system", now=now, why=invoice.number)
        await notify_member(
            session,
            gym=gym,
            member=member,
            now=now,
            body=_suspended_text(member, invoice),
            quiet_hours=_quiet(policy),
            template_sid=templates.get("access_suspended"),
            template_values={"1": member.name or "", "2": money(invoice.amount_due_cents)},
        )
        report.suspended += 1


def _quiet(policy: BillingPolicy) -> tuple[int, int]:
    return policy.quiet_start_hour, policy.quiet_end_hour


def _first_name(member: Member) -> str:
    return (member.name or "").split(" ")[0]


def _reminder_text(
    member: Member, invoice: Invoice, day: int, suspend_in: int, tz: ZoneInfo
) -> str:
    name, amount = _first_name(member), money(invoice.amount_due_cents)
    due = invoice.due_at.astimezone(tz).date()
    if member.locale == "en":
        when = "is due today" if day == 0 else f"was due on {day_text(due, 'en')}"
        text = f"Hi {name}! Your invoice {invoice.number} for {amount} {when}."
        if day > 0 and suspend_in > 0:
            text += f" Your access pauses in {suspend_in} day{'s' if suspend_in != 1 else ''}."
        return text + " Reply *pay* to pay by card, OXXO or SPEI."
    when = "vence hoy" if day == 0 else f"venció el {day_text(due, 'es')}"
    text = f"¡Hola {name}! Tu recibo {invoice.number} por {amount} {when}."
    if day > 0 and suspend_in > 0:
        text += f" Tu acceso se pausa en {suspend_in} día{'s' if suspend_in != 1 else ''}."
    return text + " Escribe *pagar* y te paso las opciones: tarjeta, OXXO o SPEI."


def _suspended_text(member: Member, invoice: Invoice) -> str:
    name, amount = _first_name(member), money(invoice.amount_due_cents)
    if member.locale == "en":
        return (
            f"{name}, your access is paused because invoice {invoice.number} ({amount}) is "
            "unpaid. Pay it and you're back in at once: reply *pay*."
        )
    return (
        f"{name}, pausamos tu acceso porque el recibo {invoice.number} ({amount}) sigue "
        "pendiente. En cuanto lo pagues entras de nuevo: escribe *pagar*."
    )


def _paid_text(member: Member, invoice: Invoice) -> str:
    name, amount = _first_name(member), money(invoice.total_cents)
    if member.locale == "en":
        return f"Thanks {name}! We charged {amount} to your card for invoice {invoice.number}. ✅"
    return f"¡Gracias {name}! Cobramos {amount} a tu tarjeta por el recibo {invoice.number}. ✅"
