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
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from backend.conversations.locks import lock_key
from backend.conversations.models import Conversation, DeliveryStatus, Message
from backend.db import DRIVER
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


@dataclass(frozen=True)
class InboundRecord:
    """An inbound message as logged: the channel's id for it, the sender's raw address,
    the text (cut to MAX_BODY_CHARS), media and location, and how the NLU read it."""

    channel: str
    provider_id: str
    address: str
    body: str
    media: list[dict[str, Any]] | None
    intent: str
    confidence: float


# On PostgreSQL a turn's own statements go through the driver, one round trip each (see
# `_driver`); on SQLite, the embedded single-process default, through SQLAlchemy.
_MEMBER_COLUMNS = tuple(column.name for column in Member.__table__.columns)
# Who wrote and their conversation, and the message logged (with the member's
# `message_in` event), in one statement. It runs under the conversation's lock, so its
# snapshot already holds the previous turn's writes. Always one row: the sender's columns
# are NULL for an unknown number, inbound_id is NULL for a re-delivered message.
_PG_RECEIVE = f"""
WITH sender AS (
    SELECT {", ".join(f"m.{name} AS m_{name}" for name in _MEMBER_COLUMNS)},
           c.id AS c_id, c.flow AS c_flow, c.state AS c_state, c.slots AS c_slots,
           c.expires_at AS c_expires_at, c.last_inbound_at AS c_last_inbound_at,
           EXISTS (
               SELECT 1 FROM handoff_tickets t
               WHERE t.gym_id = m.gym_id AND t.member_id = m.id AND t.status = 'open'
                 AND t.silence_until > $10::timestamptz
           ) AS silenced
    FROM members m
    LEFT JOIN conversations c ON c.member_id = m.id AND c.channel = $2::text
    WHERE m.gym_id = $1::bigint AND m.phone = $11::text
), inbound AS (
    INSERT INTO messages (gym_id, member_id, channel, direction, provider_id, address, body,
                          media, intent, confidence, status, created_at)
    SELECT $1::bigint, (SELECT m_id FROM sender), $2::text, 'in', $3::text, $4::text,
           $5::text, $6::jsonb, $7::text, $8::float8, 'received', $10::timestamptz
    ON CONFLICT (channel, provider_id) DO NOTHING
    RETURNING id, member_id
), event AS (
    INSERT INTO member_events (gym_id, member_id, kind, data, occurred_at)
    SELECT $1::bigint, member_id, 'message_in', $9::jsonb, $10::timestamptz
    FROM inbound WHERE member_id IS NOT NULL
)
SELECT (SELECT id FROM inbound) AS inbound_id, sender.*
FROM (SELECT 1) AS one LEFT JOIN sender ON true
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
    driver = session.info.get(DRIVER)  # set by the turn's lock (`ConversationLocks.turn`)
    if driver is None:
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("the turn's transaction has not begun")
    return driver


async def receive(
    session: AsyncSession, gym_id: int, phone: str, inbound: InboundRecord, now: datetime
) -> tuple[Sender, int | None]:
    """Who wrote from `phone` (see `Sender`) and the id of the logged message, None when
    it is a re-delivery (then nothing is written). The unique (channel, provider_id) key
    makes the insert itself the duplicate check."""
    if session.bind.dialect.name != "postgresql":
        sender = await load_sender(session, gym_id, phone, inbound.channel, now)
        member_id = sender.member.id if sender.member else None
        return sender, await _insert_inbound_sqlite(session, gym_id, member_id, inbound, now)
    driver = await _driver(session)
    row = await driver.fetchrow(
        _PG_RECEIVE,
        gym_id,
        inbound.channel,
        inbound.provider_id,
        inbound.address,
        inbound.body[:MAX_BODY_CHARS],
        None if inbound.media is None else json.dumps(inbound.media),
        inbound.intent,
        inbound.confidence,
        json.dumps({"intent": inbound.intent, "channel": inbound.channel}),
        now,
        phone,
    )
    if row["m_id"] is None:
        return Sender(None, None, False), row["inbound_id"]
    member = session.identity_map.get(identity_key(Member, row["m_id"]))
    if member is None:  # a persistent, unmodified instance, as if the session loaded it
        member = Member(**{name: row[f"m_{name}"] for name in _MEMBER_COLUMNS})
        make_transient_to_detached(member)
        session.add(member)
    convo = None
    if row["c_id"] is not None:
        convo = ConversationState(
            row["c_flow"],
            row["c_state"],
            dict(row["c_slots"] or {}),  # the engine's jsonb codec decodes
            row["c_expires_at"],
            row["c_last_inbound_at"],
        )
    return Sender(member, convo, row["silenced"]), row["inbound_id"]


async def _insert_inbound_sqlite(
    session: AsyncSession,
    gym_id: int,
    member_id: int | None,
    inbound: InboundRecord,
    now: datetime,
) -> int | None:
    stmt = (
        sqlite_insert(Message)
        .values(
            gym_id=gym_id,
            member_id=member_id,
            channel=inbound.channel,
            direction="in",
            provider_id=inbound.provider_id,
            address=inbound.address,
            body=inbound.body[:MAX_BODY_CHARS],
            media=inbound.media,
            intent=inbound.intent,
            confidence=inbound.confidence,
            status="received",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(Message.id)
    )
    message_id: int | None = await session.scalar(stmt)
    if message_id is not None and member_id is not None:
        event = {"intent": inbound.intent, "channel": inbound.channel}
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
