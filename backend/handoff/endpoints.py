"""`/api/v1/handoff/tickets`: staff see who asked for a person (with the conversation),
answer them on WhatsApp through the outbox, and close the ticket (the bot answers again)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.errors import NotFound
from backend.gyms.models import Gym
from backend.handoff import service
from backend.handoff.models import HandoffTicket
from backend.handoff.schemas import TicketClose, TicketDetail, TicketMessage, TicketOut, TicketReply
from backend.members.models import Member
from backend.types import utcnow

router = APIRouter(prefix="/handoff", tags=["handoff"])


async def _gym(session: AsyncSession, principal: Principal) -> Gym:
    gym = await session.get(Gym, principal.gym_id)
    if gym is None:
        raise NotFound("Gimnasio no encontrado.", "Gym not found.")
    return gym


async def _out(session: AsyncSession, ticket: HandoffTicket) -> TicketOut:
    member = await session.get(Member, ticket.member_id)
    out = TicketOut.model_validate(ticket)
    out.member_name = member.name if member else None
    return out


@router.get("/tickets")
async def list_tickets(
    status: Literal["open", "closed"] | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("handoff:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[TicketOut]:
    """The gym's handoff tickets, newest first (`status=open` for the ones waiting)."""
    stmt = select(HandoffTicket).where(HandoffTicket.gym_id == principal.gym_id)
    if status is not None:
        stmt = stmt.where(HandoffTicket.status == status)
    rows, cursor = await paginate(session, stmt, page, (HandoffTicket.opened_at, HandoffTicket.id))
    return Page(items=[await _out(session, t) for t in rows], next_cursor=cursor)


@router.get("/tickets/{ticket_id}")
async def get_ticket(
    ticket_id: int,
    principal: Principal = Depends(require("handoff:read")),
    session: AsyncSession = Depends(get_session),
) -> TicketDetail:
    """A ticket with the conversation before the handoff and everything since."""
    ticket = await service.get_ticket(session, principal.gym_id, ticket_id)
    out = await _out(session, ticket)
    since = await service.messages_since(session, ticket)
    return TicketDetail(
        **out.model_dump(),
        context=list(ticket.context or []),
        messages=[
            TicketMessage(direction=m.direction, body=m.body, at=m.created_at) for m in since
        ],
    )


@router.post("/tickets/{ticket_id}/reply")
async def reply_ticket(
    ticket_id: int,
    body: TicketReply,
    principal: Principal = Depends(require("handoff:write")),
    session: AsyncSession = Depends(get_session),
) -> TicketOut:
    """Answer the member on WhatsApp (sent through the outbox)."""
    gym = await _gym(session, principal)
    ticket = await service.get_ticket(session, gym.id, ticket_id)
    await service.reply(session, gym, ticket, body.body, actor=principal.actor(), now=utcnow())
    return await _out(session, ticket)


@router.post("/tickets/{ticket_id}/close")
async def close_ticket(
    ticket_id: int,
    body: TicketClose | None = None,
    principal: Principal = Depends(require("handoff:write")),
    session: AsyncSession = Depends(get_session),
) -> TicketOut:
    """Close the ticket (optionally with a last message); the bot answers again."""
    gym = await _gym(session, principal)
    ticket = await service.get_ticket(session, gym.id, ticket_id)
    await service.close(
        session,
        gym,
        ticket,
        actor=principal.actor(),
        now=utcnow(),
        message=body.message if body else None,
    )
    return await _out(session, ticket)
