"""Handoff tickets: a member asks for a person (or complains), staff answer through the
API, and the bot keeps quiet in that conversation until the ticket is closed or the
silence window (24 hours, renewed by each staff reply) passes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.models import Message
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.handoff.models import HandoffTicket
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.service import queue_message

SILENCE = timedelta(hours=24)
CONTEXT_MESSAGES = 10


async def open_ticket_of(
    session: AsyncSession, gym_id: int, member_id: int
) -> HandoffTicket | None:
    return await session.scalar(
        select(HandoffTicket)
        .where(
            HandoffTicket.gym_id == gym_id,
            HandoffTicket.member_id == member_id,
            HandoffTicket.status == "open",
        )
        .order_by(HandoffTicket.id.desc())
        .limit(1)
    )


async def recent_messages(
    session: AsyncSession, gym_id: int, member_id: int, limit: int = CONTEXT_MESSAGES
) -> list[dict[str, str]]:
    rows = await session.scalars(
        select(Message)
        .where(Message.gym_id == gym_id, Message.member_id == member_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return [
        {"direction": m.direction, "body": m.body, "at": m.created_at.isoformat()}
        for m in reversed(list(rows.all()))
    ]


async def open_ticket(
    session: AsyncSession,
    member: Member,
    *,
    summary: str,
    kind: str,
    channel: str,
    now: datetime,
) -> HandoffTicket:
    """Open a ticket with the conversation so far (or return the one already open)."""
    existing = await open_ticket_of(session, member.gym_id, member.id)
    if existing is not None:
        existing.silence_until = max(existing.silence_until, now + SILENCE)
        return existing
    ticket = HandoffTicket(
        gym_id=member.gym_id,
        member_id=member.id,
        channel=channel,
        status="open",
        kind=kind,
        summary=summary[:2000],
        context=await recent_messages(session, member.gym_id, member.id),
        opened_at=now,
        silence_until=now + SILENCE,
    )
    session.add(ticket)
    await session.flush()
    await record_event(
        session,
        member.gym_id,
        member.id,
        "handoff_requested",
        {"ticket_id": ticket.id, "kind": kind},
        now,
    )
    await audit(
        session,
        member.gym_id,
        f"member:{member.id}",
        "handoff.opened",
        "handoff_ticket",
        ticket.id,
        {"kind": kind, "channel": channel},
    )
    return ticket


async def get_ticket(session: AsyncSession, gym_id: int, ticket_id: int) -> HandoffTicket:
    ticket = await session.scalar(
        select(HandoffTicket).where(HandoffTicket.id == ticket_id, HandoffTicket.gym_id == gym_id)
    )
    if ticket is None:
        raise NotFound("Ese ticket no existe.", "No such ticket.")
    return ticket


async def messages_since(
    session: AsyncSession, ticket: HandoffTicket, limit: int = 200
) -> Sequence[Message]:
    """The conversation from the handoff on (what the member and staff wrote)."""
    rows = await session.scalars(
        select(Message)
        .where(
            Message.gym_id == ticket.gym_id,
            Message.member_id == ticket.member_id,
            Message.created_at >= ticket.opened_at,
        )
        .order_by(Message.created_at, Message.id)
        .limit(limit)
    )
    return rows.all()


async def reply(
    session: AsyncSession, gym: Gym, ticket: HandoffTicket, body: str, *, actor: str, now: datetime
) -> None:
    """Staff answer the member on WhatsApp (through the outbox); the bot stays quiet."""
    if ticket.status != "open":
        raise Conflict("Ese ticket ya está cerrado.", "That ticket is already closed.")
    text = body.strip()
    if not text:
        raise InvalidInput("El mensaje está vacío.", "The message is empty.")
    member = await session.get(Member, ticket.member_id)
    assert member is not None
    await queue_message(
        session,
        gym_id=gym.id,
        member_id=member.id,
        channel=ticket.channel,
        to=member.whatsapp_address or f"whatsapp:{member.phone}",
        from_=f"whatsapp:{gym.whatsapp_number}",
        body=text,
        now=now,
    )
    ticket.first_reply_at = ticket.first_reply_at or now
    ticket.last_reply_at = now
    ticket.silence_until = max(ticket.silence_until, now + SILENCE)
    await audit(
        session, gym.id, actor, "handoff.replied", "handoff_ticket", ticket.id, {"chars": len(text)}
    )


async def close(
    session: AsyncSession,
    gym: Gym,
    ticket: HandoffTicket,
    *,
    actor: str,
    now: datetime,
    message: str | None = None,
) -> None:
    """Close the ticket (optionally with a last message); the bot answers again."""
    if ticket.status != "open":
        raise Conflict("Ese ticket ya está cerrado.", "That ticket is already closed.")
    if message and message.strip():
        await reply(session, gym, ticket, message, actor=actor, now=now)
    ticket.status, ticket.closed_at, ticket.closed_by = "closed", now, actor
    await record_event(
        session, gym.id, ticket.member_id, "handoff_closed", {"ticket_id": ticket.id}, now
    )
    await audit(session, gym.id, actor, "handoff.closed", "handoff_ticket", ticket.id, {})
