"""The message log and per-conversation dialogue state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.locks import lock_key
from backend.conversations.models import Conversation, DeliveryStatus, Message
from backend.handoff.models import HandoffTicket
from backend.members.models import Member
from backend.members.service import record_event
from backend.types import UTCDateTime, utcnow

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


@dataclass
class ConversationState:
    """The dialogue state a turn reads and writes; `save_turn` stores it."""

    flow: str | None = None
    state: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    last_inbound_at: datetime | None = None


@dataclass(frozen=True)
class Sender:
    """Who wrote: the member (None for an unknown number), their conversation on the
    channel (None before their first message) and whether a person is answering them (an
    open handoff ticket inside its silence window)."""

    member: Member | None
    conversation: ConversationState | None
    silenced: bool


# Built once, so SQLAlchemy reuses its cache key and compiled form on every turn.
_SILENCED = (
    exists()
    .where(
        HandoffTicket.gym_id == Member.gym_id,
        HandoffTicket.member_id == Member.id,
        HandoffTicket.status == "open",
        HandoffTicket.silence_until > bindparam("now", type_=UTCDateTime()),
    )
    .label("silenced")
)
_SENDER = (
    select(
        Member,
        Conversation.id,
        Conversation.flow,
        Conversation.state,
        Conversation.slots,
        Conversation.expires_at,
        Conversation.last_inbound_at,
        _SILENCED,
    )
    .outerjoin(
        Conversation,
        (Conversation.member_id == Member.id) & (Conversation.channel == bindparam("channel")),
    )
    .where(Member.gym_id == bindparam("gym_id"), Member.phone == bindparam("phone"))
)


async def load_sender(
    session: AsyncSession, gym_id: int, phone: str, channel: str, now: datetime
) -> Sender:
    """The member writing from `phone`, their conversation and handoff state: one query."""
    row = (
        await session.execute(
            _SENDER, {"gym_id": gym_id, "phone": phone, "channel": channel, "now": now}
        )
    ).first()
    if row is None:
        return Sender(None, None, False)
    member, convo_id, flow, state, slots, expires_at, last_inbound_at, silenced = row
    convo = None
    if convo_id is not None:
        convo = ConversationState(flow, state, dict(slots or {}), expires_at, last_inbound_at)
    return Sender(member, convo, bool(silenced))


# On PostgreSQL a turn's own writes go through the driver, one round trip each (see
# `_driver`); on SQLite, the embedded single-process default, through SQLAlchemy.
_PG_INSERT_INBOUND = """
WITH inbound AS (
    INSERT INTO messages (gym_id, member_id, channel, direction, provider_id, address, body,
                          media, intent, confidence, status, created_at)
    VALUES ($1::bigint, $2::bigint, $3::text, 'in', $4::text, $5::text, $6::text,
            $7::jsonb, $8::text, $9::float8, 'received', $10::timestamptz)
    ON CONFLICT (channel, provider_id) DO NOTHING
    RETURNING id
), event AS (
    INSERT INTO member_events (gym_id, member_id, kind, data, occurred_at)
    SELECT $1::bigint, $2::bigint, 'message_in', $11::jsonb, $10::timestamptz
    FROM inbound WHERE $2::bigint IS NOT NULL
)
SELECT id FROM inbound
"""
_PG_SAVE_TURN = """
WITH conversation AS (
    INSERT INTO conversations (gym_id, member_id, channel, flow, state, slots, expires_at,
                               last_inbound_at, updated_at)
    VALUES ($1::bigint, $2::bigint, $3::text, $4::text, $5::text, $6::jsonb,
            $7::timestamptz, $8::timestamptz, $9::timestamptz)
    ON CONFLICT (gym_id, member_id, channel) DO UPDATE SET
        flow = excluded.flow, state = excluded.state, slots = excluded.slots,
        expires_at = excluded.expires_at, last_inbound_at = excluded.last_inbound_at,
        updated_at = excluded.updated_at
)
INSERT INTO messages (gym_id, member_id, channel, direction, address, body, status,
                      created_at, reply_to_id)
SELECT $1::bigint, $2::bigint, $3::text, 'out', $10::text, reply.body, 'inline',
       $9::timestamptz, $11::bigint
FROM unnest($12::text[]) WITH ORDINALITY AS reply(body, n)
ORDER BY reply.n
"""


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction.

    A turn's fixed statements skip SQLAlchemy's per-statement work (most of a turn's CPU
    otherwise) but stay in the session's transaction, which must have begun already."""
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("the turn's transaction has not begun")
    return driver


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
    """Store an inbound message, with the member's `message_in` event when the sender is a
    member; None when its provider id is stored already (a re-delivery: nothing written).
    The unique (channel, provider_id) key makes the insert itself the duplicate check."""
    body = body[:MAX_BODY_CHARS]
    event = {"intent": intent, "channel": channel}
    if session.bind.dialect.name == "postgresql":
        driver = await _driver(session)
        found: int | None = await driver.fetchval(
            _PG_INSERT_INBOUND,
            gym_id,
            member_id,
            channel,
            provider_id,
            address,
            body,
            None if media is None else json.dumps(media),
            intent,
            confidence,
            now,
            json.dumps(event),
        )
        return found
    stmt = (
        sqlite_insert(Message)
        .values(
            gym_id=gym_id,
            member_id=member_id,
            channel=channel,
            direction="in",
            provider_id=provider_id,
            address=address,
            body=body,
            media=media,
            intent=intent,
            confidence=confidence,
            status="received",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(Message.id)
    )
    message_id: int | None = await session.scalar(stmt)
    if message_id is not None and member_id is not None:
        await record_event(session, gym_id, member_id, "message_in", event, now)
    return message_id


async def save_turn(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int,
    channel: str,
    address: str,
    convo: ConversationState,
    replies: Sequence[str],
    reply_to_id: int,
    now: datetime,
) -> None:
    """Store the conversation's state (created by the member's first turn) and log, in
    order, the replies that go back in the webhook's answer."""
    bodies = [text[:MAX_BODY_CHARS] for text in replies]
    if session.bind.dialect.name == "postgresql":
        driver = await _driver(session)
        await driver.execute(
            _PG_SAVE_TURN,
            gym_id,
            member_id,
            channel,
            convo.flow,
            convo.state,
            json.dumps(convo.slots),
            convo.expires_at,
            convo.last_inbound_at,
            now,
            address,
            reply_to_id,
            bodies,
        )
        return
    state = {
        "flow": convo.flow,
        "state": convo.state,
        "slots": convo.slots,
        "expires_at": convo.expires_at,
        "last_inbound_at": convo.last_inbound_at,
        "updated_at": now,
    }
    await session.execute(
        sqlite_insert(Conversation)
        .values(gym_id=gym_id, member_id=member_id, channel=channel, **state)
        .on_conflict_do_update(index_elements=["gym_id", "member_id", "channel"], set_=state)
    )
    if bodies:
        await session.execute(
            insert(Message),
            [
                {
                    "gym_id": gym_id,
                    "member_id": member_id,
                    "channel": channel,
                    "direction": "out",
                    "address": address,
                    "body": body,
                    "status": "inline",
                    "created_at": now,
                    "reply_to_id": reply_to_id,
                }
                for body in bodies
            ],
        )


async def attach_member(session: AsyncSession, message_id: int, member_id: int) -> None:
    """Link a message logged before its sender became a member (a new prospect)."""
    await session.execute(
        update(Message).where(Message.id == message_id).values(member_id=member_id)
    )


def within_service_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """WhatsApp accepts free-form text only within 24 h of the member's last message."""
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


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
