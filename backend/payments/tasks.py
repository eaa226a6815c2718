"""Payment jobs' bodies: process a notification, sweep the ones left behind, reconcile."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db import transaction
from backend.payments.accounts import AccountDirectory
from backend.payments.notifications import process_notification, stale_notification_ids
from backend.payments.provider import PaymentProvider, ProviderUnavailable
from backend.payments.reconciliation import ReconciliationReport, reconcile

log = logging.getLogger(__name__)


async def sweep_notifications(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    accounts: AccountDirectory,
    now: datetime,
    templates: dict[str, str] | None = None,
) -> int:
    """Process notifications whose job was lost or failed (provider down); each in its own
    transaction. Returns how many were processed."""
    async with transaction(sessionmaker) as session:
        ids = await stale_notification_ids(session, now)
    done = 0
    for notification_id in ids:
        try:
            await process_notification(
                sessionmaker, provider, accounts, notification_id, now, templates
            )
            done += 1
        except ProviderUnavailable:
            log.warning("provider still unavailable; %d notifications wait", len(ids) - done)
            break
    return done


async def reconcile_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    accounts: AccountDirectory,
    now: datetime,
) -> ReconciliationReport:
    async with transaction(sessionmaker) as session:
        return await reconcile(session, provider, accounts, now)
