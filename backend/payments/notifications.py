"""Provider notifications: stored once per delivery, then processed by a job that looks
the payment up at the provider and applies only what the provider says."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db import transaction
from backend.jobs import enqueue_after_commit
from backend.payments.accounts import AccountDirectory
from backend.payments.apply import apply_provider_payment
from backend.payments.models import PaymentNotification
from backend.payments.provider import PaymentProvider, ProviderUnavailable

log = logging.getLogger(__name__)

PROCESS_JOB = "process_payment_notification"
# Notifications processed at once per process (each holds a database connection).
PROCESSING_SLOTS = 8
# Notifications still unprocessed after this long are picked up by the sweep.
SWEEP_AFTER = timedelta(minutes=1)


def job_id(notification_id: int) -> str:
    return f"payment-notification:{notification_id}"


async def store_notification(
    session: AsyncSession,
    *,
    provider: str,
    account: str,
    gym_id: int | None,
    topic: str,
    action: str,
    data_id: str,
    request_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> int | None:
    """Insert the notification unless this delivery was stored already; the new row's id
    (its processing is enqueued after commit) or None for a duplicate delivery."""
    dedupe = f"{account or 'default'}:{topic}:{data_id}:{action}:{request_id}"[:200]
    values = {
        "provider": provider,
        "dedupe_key": dedupe,
        "gym_id": gym_id,
        "account": account[:40],
        "topic": topic[:40],
        "action": action[:60],
        "data_id": data_id[:80],
        "request_id": request_id[:80],
        "payload": payload,
        "received_at": now,
        "status": "received",
        "detail": "",
    }
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(PaymentNotification).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(PaymentNotification).values(values).on_conflict_do_nothing()
    else:
        stmt = insert(PaymentNotification).values(values)
    new_id = await session.scalar(stmt.returning(PaymentNotification.id))
    if new_id is None:
        return None
    enqueue_after_commit(session, PROCESS_JOB, new_id, job_id=job_id(new_id))
    return int(new_id)


async def process_notification(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    accounts: AccountDirectory,
    notification_id: int,
    now: datetime,
    templates: dict[str, str] | None = None,
) -> str:
    """Look the notified payment up and apply it in one transaction. Safe to run twice (a
    processed notification is skipped) and concurrently with other deliveries of the same
    payment (see backend.payments.apply). The provider is asked before the transaction
    starts, so no connection or row lock is held across the network call. A provider
    outage leaves the notification `received` and raises, for the job's retry or the sweep."""
    async with sessionmaker() as session:
        note = await session.get(PaymentNotification, notification_id)
        if note is None or note.status != "received":
            return "skipped"
        topic, data_id, account_id = note.topic, note.data_id, note.account
    account = await accounts.for_user(account_id or None)
    found = None
    if topic == "payment" and account is not None:
        try:
            found = await provider.get_payment(account.gym_id, data_id)
        except ProviderUnavailable:
            log.warning("payment %s: provider unavailable; will retry", data_id)
            raise

    async with transaction(sessionmaker) as session:
        query = select(PaymentNotification).where(PaymentNotification.id == notification_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        note = await session.scalar(query)
        if note is None or note.status != "received":
            return "skipped"
        note.processed_at = now
        if topic != "payment":
            note.status, note.detail = "ignored", f"topic {topic} not handled"[:200]
            return note.status
        if account is None:
            note.status, note.detail = "rejected", "no account"
            return note.status
        if found is None:
            log.warning("notification %s: payment %s unknown at provider", note.id, data_id)
            note.status, note.detail = "rejected", "unknown payment"
            return note.status

        async def serves(gym_id: int) -> bool:
            return await accounts.serves(account, gym_id)

        outcome = await apply_provider_payment(
            session,
            provider,
            found,
            now=now,
            account_gym_id=account.gym_id,
            serves_gym=serves,
            templates=templates,
        )
        note.status, note.detail = outcome.status, outcome.detail[:200]
        note.gym_id = note.gym_id or outcome.gym_id
        return note.status


async def stale_notification_ids(
    session: AsyncSession, now: datetime, limit: int = 500
) -> list[int]:
    rows = await session.scalars(
        select(PaymentNotification.id)
        .where(
            PaymentNotification.status == "received",
            PaymentNotification.received_at < now - SWEEP_AFTER,
        )
        .order_by(PaymentNotification.id)
        .limit(limit)
    )
    return list(rows.all())
