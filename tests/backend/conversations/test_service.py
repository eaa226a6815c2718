"""The turn's own reads and writes, on the suite's database and always on SQLite too: the
two take different paths (the driver on PostgreSQL, SQLAlchemy on SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend import migrate
from backend.conversations.models import Conversation, Message
from backend.conversations.service import (
    ConversationState,
    insert_inbound,
    load_sender,
    save_turn,
)
from backend.db import transaction
from backend.handoff.models import HandoffTicket
from backend.members.models import MemberEvent
from backend.types import utcnow
from tests.conftest import rolled_back
from tests.factories import make_gym, make_member

PHONE = "+525512345678"
ADDRESS = "whatsapp:+5215512345678"


@pytest.fixture(params=["suite", "sqlite"])
def db_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> str:
    if request.param == "suite":
        return database_url
    url = f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with rolled_back(db_url) as maker:
        yield maker


async def _inbound(
    session: AsyncSession, gym_id: int, member_id: int | None, sid: str
) -> int | None:
    return await insert_inbound(
        session,
        gym_id=gym_id,
        member_id=member_id,
        channel="whatsapp",
        provider_id=sid,
        address=ADDRESS,
        body="ya llegué",
        media=None,
        intent="check_in",
        confidence=0.97,
        now=utcnow(),
    )


async def test_a_turn_is_stored_and_read_back(db: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with transaction(db) as session:
        gym = await make_gym(session)
        unknown = await load_sender(session, gym.id, PHONE, "whatsapp", now)
        assert (unknown.member, unknown.conversation, unknown.silenced) == (None, None, False)
        member = await make_member(session, gym, PHONE)
        first = await load_sender(session, gym.id, PHONE, "whatsapp", now)
        assert first.member is member and first.conversation is None and not first.silenced

        inbound_id = await _inbound(session, gym.id, member.id, "SM" + "a" * 32)
        assert inbound_id is not None
        assert await _inbound(session, gym.id, member.id, "SM" + "a" * 32) is None  # re-delivery
        convo = ConversationState("classes", "pick", {"n": 1}, now + timedelta(minutes=15), now)
        await save_turn(
            session,
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            address=ADDRESS,
            convo=convo,
            replies=["uno", "dos", "x" * 5000],
            reply_to_id=inbound_id,
            now=now,
        )
        gym_id, member_id = gym.id, member.id

    async with transaction(db) as session:
        again = await load_sender(session, gym_id, PHONE, "whatsapp", now)
        assert again.conversation is not None
        assert (again.conversation.flow, again.conversation.state) == ("classes", "pick")
        assert again.conversation.slots == {"n": 1}
        assert again.conversation.expires_at == now + timedelta(minutes=15)
        assert again.conversation.last_inbound_at == now
        replies = (
            await session.scalars(
                select(Message).where(Message.reply_to_id == inbound_id).order_by(Message.id)
            )
        ).all()
        assert [r.body[:4] for r in replies] == ["uno", "dos", "xxxx"]
        assert len(replies[2].body) == 4096 and {r.status for r in replies} == {"inline"}
        events = await session.scalar(
            select(func.count()).where(
                MemberEvent.member_id == member_id, MemberEvent.kind == "message_in"
            )
        )
        assert events == 1  # the re-delivery recorded nothing

        # The next turn updates the same conversation; an open ticket silences the bot.
        await save_turn(
            session,
            gym_id=gym_id,
            member_id=member_id,
            channel="whatsapp",
            address=ADDRESS,
            convo=ConversationState(),
            replies=[],
            reply_to_id=inbound_id,
            now=now,
        )
        session.add(
            HandoffTicket(
                gym_id=gym_id,
                member_id=member_id,
                channel="whatsapp",
                status="open",
                kind="human",
                summary="",
                context=[],
                opened_at=now,
                silence_until=now + timedelta(hours=24),
            )
        )
        await session.flush()
        silenced = await load_sender(session, gym_id, PHONE, "whatsapp", now)
        assert silenced.silenced and silenced.conversation == ConversationState()
        later = await load_sender(session, gym_id, PHONE, "whatsapp", now + timedelta(days=2))
        assert not later.silenced
        count = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.member_id == member_id)
        )
        assert count == 1


async def test_a_stranger_message_records_no_event(db: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(db) as session:
        gym = await make_gym(session)
        assert await _inbound(session, gym.id, None, "SM" + "b" * 32) is not None
        events = await session.scalar(select(func.count()).select_from(MemberEvent))
        assert events == 0
