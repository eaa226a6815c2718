"""The message log and per-conversation dialogue state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.locks import lock_key
from backend.conversations.models import Conversation, DeliveryStatus, Message
from backend.members.models import Member
from backend.types import utcnow

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


async def member_and_conversation(
    session: AsyncSession, gym_id: int, phone: str, channel: str
) -> tuple[Member | None, Conversation | None]:
    """The member writing from `phone` and their conversation on `channel`, in one query."""
    row = (
        await session.execute(
            select(Member, Conversation)
            .outerjoin(
                Conversation,
                (Conversation.member_id == Member.id) & (Conversation.channel == channel),
            )
            .where(Member.gym_id == gym_id, Member.phone == phone)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def new_conversation(
    session: AsyncSession, gym_id: int, member_id: int, channel: str, now: datetime
) -> Conversation:
    convo = Conversation(
        gym_id=gym_id, member_id=member_id, channel=channel, slots={}, updated_at=now
    )
    session.add(convo)
    return convo


async def insert_inbound(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int | None,
    channel: str,
    provider_id: str,
    address: str,
    body: str,
    media: list[dict[str, Any]] | None,
    intent: str,
    confidence: float,
    now: datetime,
) -> int | None:
    """Store an inbound message; None when its provider id is stored already (a re-delivery).
    The unique (channel, provider_id) key makes the insert itself the duplicate check."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(Message)
        .values(
            gym_id=gym_id,
            member_id=member_id,
            channel=channel,
            direction="in",
            provider_id=provider_id,
            address=address,
            body=body[:MAX_BODY_CHARS],
            media=media,
            intent=intent,
            confidence=confidence,
            status="received",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(Message.id)
    )
    return await session.scalar(stmt)


async def attach_member(session: AsyncSession, message_id: int, member_id: int) -> None:
    """Link a message logged before its sender became a member (a new prospect)."""
    await session.execute(
        update(Message).where(Message.id == message_id).values(member_id=member_id)
    )


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
    reply_to_id: int | None = None,
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
        reply_to_id=reply_to_id,
    )
    session.add(msg)
    return msg


async def apply_delivery_status(
    session: AsyncSession, channel: str, provider_id: str, status: str, error_code: str | None
) -> bool:
    """Keep a provider's delivery callback and apply it to its message if that is known yet;
    returns False when the message is not (yet) known."""
    await hold_provider_id(session, channel, provider_id)
    await session.execute(
        _insert_ignoring_duplicates(session).values(
            channel=channel,
            provider_id=provider_id,
            status=status,
            error_code=error_code,
            received_at=utcnow(),
        )
    )
    msg = await session.scalar(
        select(Message).where(Message.channel == channel, Message.provider_id == provider_id)
    )
    if msg is None:
        return False
    _advance(msg, status, error_code)
    return True


async def hold_provider_id(session: AsyncSession, channel: str, provider_id: str) -> None:
    """Serialize a send's commit of a provider id with callbacks for it (PostgreSQL; SQLite
    transactions are serialized already), so neither misses the other's write."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": lock_key("delivery", channel, provider_id)},
        )


async def apply_stored_statuses(session: AsyncSession, msg: Message) -> None:
    """Apply callbacks that arrived before the message's provider id was stored."""
    rows = await session.execute(
        select(DeliveryStatus.status, DeliveryStatus.error_code).where(
            DeliveryStatus.channel == msg.channel, DeliveryStatus.provider_id == msg.provider_id
        )
    )
    for status, error_code in rows.all():
        _advance(msg, status, error_code)


def _advance(msg: Message, status: str, error_code: str | None) -> None:
    if _STATUS_RANK.get(status, 0) > _STATUS_RANK.get(msg.status, 0):
        msg.status = status
        msg.error_code = error_code or msg.error_code


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    return insert(DeliveryStatus).on_conflict_do_nothing()
