"""Engine, session factory and the per-request transaction boundary."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, UOWTransaction

from backend.settings import Settings

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


READ_ONLY_OPTION = "gogym_read_only"
# Set in a session's info once it has written through the ORM (a flush, or any statement
# other than a SELECT): units of work that may commit asynchronously (`durable_writes`)
# then commit synchronously after all.
WROTE = "gogym_wrote"
# Where a unit of work that runs its own transaction on the driver connection leaves it.
DRIVER = "gogym_driver"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush_context: UOWTransaction) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


def make_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so concurrent writers wait on the busy
            # timeout instead of failing when a read transaction tries to upgrade. A read-only
            # unit (`read_only`) begins deferred: under WAL it never waits for a writer.
            if conn.get_execution_options().get(READ_ONLY_OPTION):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if "poolclass" not in kwargs:
        # Connections kept open: at least the turns a worker runs at once, or every burst
        # opens (and then closes) fresh ones; a burst beyond may open half as many more.
        kwargs.setdefault("pool_size", settings.db_pool_size)
        kwargs.setdefault("max_overflow", settings.db_pool_size // 2)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def read_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for reads only (caches, lookups made in the middle of another unit of work).

    On SQLite it does not take the write lock, so it cannot deadlock with the caller's own
    open transaction; it never commits.
    """
    async with sessionmaker() as session:
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        await session.connection(execution_options=options)
        try:
            yield session
        finally:
            await session.rollback()


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit at the edge, roll back on any error, run after-commit hooks."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop("after_commit", None)
            raise
    await run_after_commit(session)


async def run_after_commit(session: AsyncSession) -> None:
    """Run the hooks the unit of work registered for after its commit."""
    for hook in session.info.pop("after_commit", []):
        try:
            await hook()
        except Exception:
            # The work is committed; a lost enqueue is picked up by the periodic sweeps.
            log.exception("after-commit hook failed")
