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
    InboundRecord,
    Sender,
    receive,
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


def _record(sid: str) -> InboundRecord:
    return InboundRecord("whatsapp", sid, ADDRESS, "ya llegué", None, "check_in", 0.97)


async def test_a_turn_is_stored_and_read_back(db: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with transaction(db) as session:
        gym = await make_gym(session)
        member = await make_member(session, gym, PHONE, name="Ana López", locale="en")
        gym_id, member_id = gym.id, member.id

    async with transaction(db) as session:
        first, inbound_id = await receive(session, gym_id, PHONE, _record("SM" + "a" * 32), now)
        assert first.member is not None and first.conversation is None and not first.silenced
        assert (first.member.id, first.member.name, first.member.locale) == (
            member_id,
            "Ana López",
            "en",
        )
        first.member.locale = "es"  # the loaded member is tracked like any loaded object
        assert inbound_id is not None
        again, duplicate = await receive(session, gym_id, PHONE, _record("SM" + "a" * 32), now)
        assert duplicate is None and again.member is first.member  # a re-delivery
        convo = ConversationState("classes", "pick", {"n": 1}, now + timedelta(minutes=15), now)
        await save_turn(
            session,
            gym_id=gym_id,
            member_id=member_id,
            channel="whatsapp",
            address=ADDRESS,
            convo=convo,
            replies=["uno", "dos", "x" * 5000],
            reply_to_id=inbound_id,
            now=now,
        )

    async with transaction(db) as session:
        again, next_id = await receive(session, gym_id, PHONE, _record("SM" + "c" * 32), now)
        assert next_id is not None and next_id != inbound_id
        assert again.member is not None and again.member.locale == "es"
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
        assert events == 2  # one per message; the re-delivery recorded nothing

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
        silenced, _ = await receive(session, gym_id, PHONE, _record("SM" + "d" * 32), now)
        assert silenced.silenced and silenced.conversation == ConversationState()
        later, _ = await receive(
            session, gym_id, PHONE, _record("SM" + "e" * 32), now + timedelta(days=2)
        )
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
        sender, inbound_id = await receive(
            session, gym.id, PHONE, _record("SM" + "b" * 32), utcnow()
        )
        assert sender == Sender(None, None, False) and inbound_id is not None
        events = await session.scalar(select(func.count()).select_from(MemberEvent))
        assert events == 0
