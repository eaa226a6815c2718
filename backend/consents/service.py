"""Marketing and biometric-photo consents: set on the member, recorded as consent events
(member_events + audit) with the time and the channel, and withdrawable at any time."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.models import OutboxMessage

Consent = Literal["marketing", "biometrics"]


async def set_consent(
    session: AsyncSession,
    member: Member,
    consent: Consent,
    granted: bool,
    *,
    channel: str,
    actor: str,
    now: datetime,
    source_text: str = "",
) -> bool:
    """Grant or withdraw a consent; returns False when nothing changed (still recorded in
    the audit trail, so a repeated "STOP" is visible). Withdrawing marketing also drops the
    member's marketing messages still waiting in the outbox, so it stops at once."""
    current = member.marketing_opt_in if consent == "marketing" else member.biometrics_opt_in
    changed = current != granted
    if consent == "marketing":
        member.marketing_opt_in, member.marketing_opt_in_at = granted, now
    else:
        member.biometrics_opt_in, member.biometrics_opt_in_at = granted, now
    dropped = 0
    if consent == "marketing" and not granted:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.gym_id == member.gym_id,
                OutboxMessage.member_id == member.id,
                OutboxMessage.purpose == "marketing",
                OutboxMessage.status == "pending",
            )
            .values(status="dead", last_error="member opted out of marketing")
        )
        dropped = int(getattr(result, "rowcount", 0) or 0)
    data = {
        "consent": consent,
        "granted": granted,
        "channel": channel,
        "changed": changed,
        "at": now.isoformat(),
        "text": source_text[:80],
        "dropped_pending": dropped,
    }
    await record_event(session, member.gym_id, member.id, "consent_changed", data, now)
    await audit(
        session,
        member.gym_id,
        actor,
        f"member.consent_{'granted' if granted else 'withdrawn'}",
        "member",
        member.id,
        data,
    )
    return changed
