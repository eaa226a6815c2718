"""The transaction boundary: after-commit hooks run only after commit, never fail the caller."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db import transaction
from backend.gyms.models import Gym
from tests.factories import make_gym


async def test_failing_after_commit_hook_does_not_undo_or_fail_the_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ran: list[str] = []

    async def broken() -> None:
        ran.append("broken")
        raise ConnectionError("redis is down")

    async def fine() -> None:
        ran.append("fine")

    async with transaction(sessionmaker) as session:
        await make_gym(session)
        session.info.setdefault("after_commit", []).extend([broken, fine])
    assert ran == ["broken", "fine"]
    async with sessionmaker() as session:
        assert await session.scalar(select(Gym.slug)) == "test"


async def test_hooks_are_dropped_on_rollback(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ran: list[str] = []

    async def hook() -> None:
        ran.append("hook")

    try:
        async with transaction(sessionmaker) as session:
            session.info.setdefault("after_commit", []).append(hook)
            raise ValueError("boom")
    except ValueError:
        pass
    assert ran == []
