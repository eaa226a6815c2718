"""Staff alerts about money: one row per (gym, kind, subject), so repeated deliveries and
daily reconciliation runs never pile up duplicates. (The Telegram ops bot will read these.)"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.members.service import audit
from backend.payments.models import PaymentAlert

log = logging.getLogger(__name__)

ALERT_KINDS = (
    "amount_mismatch",
    "currency",
    "already_paid",
    "refund",
    "chargeback",
    "unknown_reference",
    "other_gym",
    "missing_locally",
    "status_mismatch",
    "missing_at_provider",
    "referral_reversed",
)


async def raise_alert(
    session: AsyncSession,
    *,
    gym_id: int,
    kind: str,
    subject: str,
    message: str,
    now: datetime,
    payment_id: int | None = None,
    invoice_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Record an alert unless the same one exists; True when it is new (also audited)."""
    found = await session.scalar(
        select(PaymentAlert.id).where(
            PaymentAlert.gym_id == gym_id,
            PaymentAlert.kind == kind,
            PaymentAlert.subject == subject,
        )
    )
    if found is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                PaymentAlert(
                    gym_id=gym_id,
                    kind=kind,
                    subject=subject[:80],
                    payment_id=payment_id,
                    invoice_id=invoice_id,
                    message=message[:300],
                    data=data or {},
                    created_at=now,
                )
            )
            await session.flush()
    except IntegrityError:
        return False  # raised concurrently by another delivery
    log.warning("payment alert gym=%s %s %s: %s", gym_id, kind, subject, message)
    await audit(
        session,
        gym_id,
        "system",
        f"payment_alert.{kind}",
        "payment",
        payment_id,
        {"subject": subject},
    )
    return True
