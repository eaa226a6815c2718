"""Members: lookup by phone, prospects, the append-only event log and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.gyms.models import Gym
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.types import utcnow


async def record_event(
    session: AsyncSession,
    gym_id: int,
    member_id: int,
    kind: str,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append to member_events (never updated; retention and journeys read it)."""
    await session.execute(
        insert(MemberEvent).values(
            gym_id=gym_id,
            member_id=member_id,
            kind=kind,
            data=data or {},
            occurred_at=at or utcnow(),
        )
    )


async def audit(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    data: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(AuditEntry).values(
            gym_id=gym_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data or {},
            created_at=utcnow(),
        )
    )


async def create_prospect(
    session: AsyncSession, gym: Gym, phone: str, address: str, locale: str, now: datetime
) -> Member:
    member = Member(
        gym_id=gym.id,
        phone=phone,
        whatsapp_address=address,
        locale=locale,
        status="prospect",
        created_at=now,
    )
    session.add(member)
    await session.flush()
    await record_event(session, gym.id, member.id, "prospect_created", {"channel": "whatsapp"}, now)
    await audit(
        session,
        gym.id,
        "system",
        "member.created",
        "member",
        member.id,
        {"status": "prospect", "source": "whatsapp"},
    )
    return member
