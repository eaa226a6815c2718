"""Dunning: reminders on the schedule, card retries, suspension after the grace, reactivation
when paid, quiet hours — each step once."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.cycle import run_cycle
from backend.billing.dunning import run_dunning
from backend.billing.models import DunningNotice, Invoice
from backend.messaging.models import OutboxMessage
from backend.payments.models import PaymentMethod
from backend.payments.service import record_cash_payment
from tests.backend.billing.conftest import Billing, member_due


async def _outbox(session: AsyncSession) -> list[OutboxMessage]:
    return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_schedule_reminds_retries_and_suspends_once_each(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    member, sub = await member_due(session, billing, "+525530000001", card="decline-x")
    await session.commit()
    day0 = billing.now
    await run_cycle(sessionmaker, billing.provider, day0)  # charge declined on day 0

    report = await run_dunning(sessionmaker, billing.provider, day0)
    assert (report.reminders, report.past_due, report.retries) == (1, 1, 0)
    await session.refresh(sub)
    assert sub.status == "past_due"  # grace: access kept, reminded
    again = await run_dunning(sessionmaker, billing.provider, day0)
    assert again.reminders == 0

    day1 = await run_dunning(sessionmaker, billing.provider, day0 + timedelta(days=1))
    assert (day1.reminders, day1.retries, day1.recovered) == (1, 1, 0)
    day3 = await run_dunning(sessionmaker, billing.provider, day0 + timedelta(days=3))
    assert (day3.reminders, day3.retries) == (1, 0)
    day7 = await run_dunning(sessionmaker, billing.provider, day0 + timedelta(days=7))
    # Day 4's retry was missed (no run that day): it happens on the next run, once.
    assert (day7.reminders, day7.retries, day7.suspended) == (1, 1, 1)
    await session.refresh(sub)
    assert sub.status == "suspended"

    bodies = [m.body for m in await _outbox(session)]
    assert len(bodies) == 5  # reminders on days 0, 1, 3, 7 and the suspension notice
    assert "$499" in bodies[0] and "vence hoy" in bodies[0] and "pagar" in bodies[0]
    assert "pausamos tu acceso" in bodies[-1]
    actions = (await session.scalars(select(DunningNotice.action))).all()
    assert sorted(actions).count("retry") == 2

    # Paying at the front desk gives access back at once.
    invoice = await session.scalar(select(Invoice).where(Invoice.member_id == member.id))
    assert invoice is not None
    await record_cash_payment(
        session,
        billing.gym.id,
        invoice.id,
        invoice.amount_due_cents,
        actor="staff:1",
        now=day0 + timedelta(days=8),
        reference="caja 1",
    )
    await session.commit()
    await session.refresh(sub)
    assert sub.status == "active" and sub.past_due_since is None


async def test_a_retry_that_succeeds_recovers_and_thanks(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    member, sub = await member_due(session, billing, "+525530000002", card="decline-x")
    await session.commit()
    await run_cycle(sessionmaker, billing.provider, billing.now)
    await run_dunning(sessionmaker, billing.provider, billing.now)
    card = await session.scalar(select(PaymentMethod).where(PaymentMethod.member_id == member.id))
    assert card is not None
    card.provider_card_id = "card-new"  # the member updated their card
    await session.commit()

    report = await run_dunning(sessionmaker, billing.provider, billing.now + timedelta(days=1))

    assert (report.retries, report.recovered, report.reminders) == (1, 1, 0)
    await session.refresh(sub)
    assert sub.status == "active"
    assert "Cobramos $499" in (await _outbox(session))[-1].body


async def test_missed_runs_send_only_the_latest_reminder(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    await member_due(session, billing, "+525530000003", card=None)
    await session.commit()
    await run_cycle(sessionmaker, billing.provider, billing.now)
    report = await run_dunning(sessionmaker, billing.provider, billing.now + timedelta(days=4))
    assert report.reminders == 1
    assert len(await _outbox(session)) == 1
    skipped = await session.scalar(
        select(func.count()).select_from(DunningNotice).where(DunningNotice.outcome == "skipped")
    )
    assert skipped == 2  # days 0 and 1


async def test_reminders_wait_for_the_end_of_quiet_hours(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    await member_due(session, billing, "+525530000004", card=None)
    await session.commit()
    tz = ZoneInfo("America/Mexico_City")
    night = billing.now.astimezone(tz).replace(hour=23, minute=30).astimezone(billing.now.tzinfo)
    await run_cycle(sessionmaker, billing.provider, night)
    await run_dunning(sessionmaker, billing.provider, night)
    [message] = await _outbox(session)
    local = message.next_attempt_at.astimezone(tz)
    assert (local.hour, local.minute) == (8, 0)
    assert local.date() == night.astimezone(tz).date() + timedelta(days=1)


async def test_english_members_get_english_reminders(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], billing: Billing
) -> None:
    member, _ = await member_due(session, billing, "+525530000005", card=None)
    member.locale = "en"
    await session.commit()
    await run_cycle(sessionmaker, billing.provider, billing.now)
    await run_dunning(sessionmaker, billing.provider, billing.now)
    [message] = await _outbox(session)
    assert message.body.startswith("Hi Socio!") and "is due today" in message.body
