"""One member's messages are handled one at a time; different members in parallel.

PostgreSQL: a transaction-scoped advisory lock keyed by the conversation, so it holds
across API replicas and is released by commit or rollback. SQLite (embedded, one process):
an asyncio lock per conversation held around the whole transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.db import DRIVER, WROTE, run_after_commit, transaction

log = logging.getLogger(__name__)


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ConversationLocks:
    def __init__(self) -> None:
        self._local: dict[int, asyncio.Lock] = {}
        self._waiters: dict[int, int] = {}

    @asynccontextmanager
    async def _local_lock(self, key: int) -> AsyncIterator[None]:
        lock = self._local.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:  # forget idle conversations
                del self._waiters[key], self._local[key]

    @asynccontextmanager
    async def turn(
        self, sessionmaker: async_sessionmaker[AsyncSession], *parts: str
    ) -> AsyncIterator[AsyncSession]:
        """A transaction in which this conversation is held exclusively."""
        key = lock_key(*parts)
        bind = sessionmaker.kw["bind"]
        if bind.dialect.name != "postgresql":
            async with self._local_lock(key), transaction(sessionmaker) as session:
                yield session
        elif isinstance(bind, AsyncEngine):
            async with _locked_transaction(sessionmaker, key) as session:
                yield session
        else:  # bound to a connection already in a transaction (tests): a plain lock
            async with transaction(sessionmaker) as session:
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield session


@asynccontextmanager
async def _locked_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], key: int
) -> AsyncIterator[AsyncSession]:
    """PostgreSQL: BEGIN and the advisory lock in one round trip, COMMIT in another.

    The session's connection is put in driver autocommit so SQLAlchemy issues no BEGIN or
    COMMIT of its own; the transaction is ours, opened and closed here, and everything the
    session (and the turn's direct driver statements) runs falls inside it.

    A turn that only logs the conversation (its message, replies and dialogue state, the
    driver statements) commits without waiting for the WAL flush: a database crash may
    lose the last fraction of a second of such chat, never anything else. As soon as the
    turn writes through the session (a check-in, a payment, a consent, a new prospect…)
    its commit waits for the flush as usual."""
    async with sessionmaker() as session:
        conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        session.info[DRIVER] = driver
        await driver.execute(
            f"BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_advisory_xact_lock({int(key)})"
        )
        try:
            yield session
            await session.flush()
            await driver.execute(
                "SET LOCAL synchronous_commit TO on; COMMIT"
                if session.info.get(WROTE)
                else "COMMIT"
            )
        except BaseException:
            session.info.pop("after_commit", None)
            try:
                if not driver.is_closed() and driver.is_in_transaction():
                    await driver.execute("ROLLBACK")
            except Exception:  # a broken connection: keep it out of the pool
                log.exception("rollback failed; discarding the connection")
                await conn.invalidate()
            raise
    await run_after_commit(session)
