"""The message log and per-conversation dialogue state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.models import Conversation, Message

WHATSAPP_WINDOW = timedelta(hours=24)
MAX_BODY_CHARS = 4096

# Delivery statuses only move forward; callbacks may arrive out of order.
_STATUS_RANK = {"queued": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5, "undelivered": 5}


async def find_inbound(session: AsyncSession, channel: str, provider_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.channel == channel, Message.provider_id == provider_id)
    )


async def replies_to(session: AsyncSession, message_id: int) -> Sequence[Message]:
    rows = await session.scalars(
        select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
    )
    return rows.all()


async def conversation_for(
    session: AsyncSession, gym_id: int, member_id: int, channel: str, now: datetime
) -> Conversation:
    convo = await session.scalar(
        select(Conversation).where(
            Conversation.gym_id == gym_id,
            Conversation.member_id == member_id,
            Conversation.channel == channel,
        )
    )
    if convo is None:
        convo = Conversation(
            gym_id=gym_id, member_id=member_id, channel=channel, slots={}, updated_at=now
        )
        session.add(convo)
    return convo


def within_service_window(convo: Conversation | None, now: datetime) -> bool:
    """WhatsApp accepts free-form text only within 24 h of the member's last message."""
    return bool(convo and convo.last_inbound_at and now - convo.last_inbound_at < WHATSAPP_WINDOW)


def log_message(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int | None,
    channel: str,
    direction: str,
    address: str,
    body: str,
    now: datetime,
    provider_id: str | None = None,
    media: list[dict[str, Any]] | None = None,
    intent: str | None = None,
    confidence: float | None = None,
    reply_to: Message | None = None,
    status: str = "received",
) -> Message:
    msg = Message(
        gym_id=gym_id,
        member_id=member_id,
        channel=channel,
        direction=direction,
        address=address,
        body=body[:MAX_BODY_CHARS],
        provider_id=provider_id,
        media=media,
        intent=intent,
        confidence=confidence,
        status=status,
        created_at=now,
        reply_to_id=reply_to.id if reply_to is not None else None,
    )
    session.add(msg)
    return msg


async def apply_delivery_status(
    session: AsyncSession, channel: str, provider_id: str, status: str, error_code: str | None
) -> bool:
    """Record a provider's delivery callback; returns False for an unknown message."""
    msg = await session.scalar(
        select(Message).where(Message.channel == channel, Message.provider_id == provider_id)
    )
    if msg is None:
        return False
    if _STATUS_RANK.get(status, 0) > _STATUS_RANK.get(msg.status, 0):
        await session.execute(
            update(Message)
            .where(Message.id == msg.id)
            .values(status=status, error_code=error_code or msg.error_code)
        )
    return True
