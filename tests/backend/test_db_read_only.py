"""A read-only unit of work does not wait on another unit's write lock (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select, text

from backend import migrate
from backend.db import make_engine, make_sessionmaker, read_only, transaction
from backend.gyms.models import Gym
from backend.settings import Settings


async def test_read_only_does_not_deadlock_inside_a_write_transaction(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    sessionmaker = make_sessionmaker(engine)
    try:
        async with transaction(sessionmaker) as writer:
            await writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held
            async with read_only(sessionmaker) as reader:
                found = await asyncio.wait_for(reader.scalars(select(Gym.id)), timeout=5)
                assert list(found) == []
    finally:
        await engine.dispose()
