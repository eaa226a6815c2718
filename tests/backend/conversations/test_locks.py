"""A conversation's turns run one at a time, each in one transaction that commits or
leaves nothing behind (on PostgreSQL: our own BEGIN + lock, COMMIT or ROLLBACK)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations.locks import ConversationLocks
from backend.db import WROTE, transaction
from backend.gyms.models import Gym
from tests.factories import make_gym


async def _gyms(sm: async_sessionmaker[AsyncSession]) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(Gym)) or 0)


async def test_a_failed_turn_leaves_nothing_and_a_clean_connection(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    locks = ConversationLocks()
    with pytest.raises(RuntimeError):
        async with locks.turn(committed_sessionmaker, "whatsapp", "+1", "+52") as session:
            await make_gym(session)  # flushed: the row is in the open transaction
            raise RuntimeError("the turn failed")
    assert await _gyms(committed_sessionmaker) == 0
    # The pooled connection is back to normal transactions: a rollback still undoes.
    with pytest.raises(RuntimeError):
        async with transaction(committed_sessionmaker) as session:
            await make_gym(session, slug="otro")
            raise RuntimeError("rolled back")
    assert await _gyms(committed_sessionmaker) == 0
    async with locks.turn(committed_sessionmaker, "whatsapp", "+1", "+52") as session:
        session.add(Gym(name="Uno", slug="uno", whatsapp_number="+14155550100"))
    assert await _gyms(committed_sessionmaker) == 1


async def test_turns_of_one_conversation_wait_for_each_other(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    locks, order = ConversationLocks(), []

    async def turn(name: str, parts: tuple[str, ...], hold: float) -> None:
        async with locks.turn(committed_sessionmaker, *parts):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    same, other = ("whatsapp", "+1", "+52"), ("whatsapp", "+1", "+53")
    first = asyncio.create_task(turn("a", same, 0.3))
    await asyncio.sleep(0.05)
    await asyncio.gather(turn("b", same, 0), turn("c", other, 0), first)
    assert order.index("a out") < order.index("b in")  # same conversation: after a
    assert order.index("c in") < order.index("a out")  # another one: alongside


async def test_only_turns_that_write_through_the_session_wait_for_the_wal(
    committed_sessionmaker: async_sessionmaker[AsyncSession], is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL commit durability")
    locks = ConversationLocks()
    setting = text("SELECT current_setting('synchronous_commit')")
    async with locks.turn(committed_sessionmaker, "whatsapp", "+1", "+52") as session:
        assert await _driver_scalar(session, setting) == "off"  # a chat-only turn
        await session.scalar(select(func.count()).select_from(Gym))  # reads don't count
        assert not session.info.get(WROTE)
        await make_gym(session)  # a write through the session: a synchronous commit
        assert session.info.get(WROTE)
    assert await _gyms(committed_sessionmaker) == 1


async def _driver_scalar(session: AsyncSession, statement: Any) -> Any:
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    return await driver.fetchval(str(statement))
