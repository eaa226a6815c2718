"""The Alembic migrations: they round-trip, they match the models, and on PostgreSQL
member_events is partitioned by month."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from backend import migrate
from backend.members.partitions import ensure_partitions
from backend.models import Base

MODEL_TABLES = set(Base.metadata.tables)
HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
# Monthly partitions the migration and the cron create, plus the catch-all one.
PARTITION_NAME = re.compile(r"member_events_(\d{4}_\d{2}|default)")


def _tables(sync_url: str) -> set[str]:
    engine = create_engine(sync_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"
    sync_url = f"sqlite:///{path}"

    migrate.upgrade(url)
    assert _tables(sync_url) == MODEL_TABLES | {"alembic_version"}

    migrate.downgrade(url, "base")
    assert _tables(sync_url) <= {"alembic_version"}

    migrate.upgrade(url)
    assert _tables(sync_url) == MODEL_TABLES | {"alembic_version"}
    engine = create_engine(sync_url, poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == HEAD
        # The schema is usable: a row goes in and comes back.
        conn.execute(
            text(
                "INSERT INTO gyms (name, slug, whatsapp_number, timezone, checkin_policy,"
                " enrollment_open, created_at) VALUES ('G', 'g', '+14155238886',"
                " 'America/Mexico_City', 'verify', 1, '2026-01-01 00:00:00')"
            )
        )
        assert conn.scalar(text("SELECT slug FROM gyms")) == "g"
    engine.dispose()


def test_one_head_and_every_revision_steps_down_and_up(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [HEAD]  # a branch would make `upgrade head` ambiguous
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    url = f"sqlite+aiosqlite:///{tmp_path / 'stairs.db'}"
    sync_url = f"sqlite:///{tmp_path / 'stairs.db'}"
    for revision in revisions:
        migrate.upgrade(url, revision)
        after = _tables(sync_url)
        migrate.downgrade(url, "-1")
        migrate.upgrade(url, revision)
        assert _tables(sync_url) == after, revision
    assert _tables(sync_url) == MODEL_TABLES | {"alembic_version"}


async def _admin(admin_url: str, sql: str) -> None:
    engine = create_async_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def test_postgres_upgrade_downgrade_upgrade(database_url: str, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    server = database_url.rsplit("/", 1)[0]
    name = database_url.rsplit("/", 1)[1] + "_roundtrip"
    admin = f"{server}/postgres"
    url = f"{server}/{name}"
    asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_admin(admin, f"CREATE DATABASE {name}"))
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        migrate.upgrade(url)

        async def tables() -> set[str]:
            engine = create_async_engine(url, poolclass=NullPool)
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            await engine.dispose()
            return names

        names = asyncio.run(tables())
        assert names - {n for n in names if PARTITION_NAME.fullmatch(n)} == MODEL_TABLES | {
            "alembic_version"
        }
        assert {"member_events_default", "member_events_2024_01", "member_events_2027_12"} <= names
    finally:
        asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # member_events' partitions are ordinary tables to the inspector; they are storage for
    # the one member_events table the model maps, not tables of their own.
    return not (type_ == "table" and name is not None and PARTITION_NAME.fullmatch(name))


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": _include_name}
    )
    return list(compare_metadata(context, Base.metadata))


def _primary_keys(conn: Connection) -> dict[str, list[str]]:
    inspector = inspect(conn)
    return {name: inspector.get_pk_constraint(name)["constrained_columns"] for name in MODEL_TABLES}


async def test_models_match_the_migrated_schema(database_url: str, is_postgres: bool) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_schema_diff)
            keys = await conn.run_sync(_primary_keys)
    finally:
        await engine.dispose()
    assert diff == []

    # Autogenerate does not compare primary keys; do it here.
    expected = {
        name: [c.name for c in table.primary_key.columns]
        for name, table in Base.metadata.tables.items()
    }
    if is_postgres:
        # The one deliberate difference: a partitioned table's key must include the
        # partition column, so on PostgreSQL member_events' key is (id, occurred_at) while
        # the model maps `id` alone (see MemberEvent's docstring).
        assert sorted(keys.pop("member_events")) == ["id", "occurred_at"]
        expected.pop("member_events")
    assert {k: sorted(v) for k, v in keys.items()} == {k: sorted(v) for k, v in expected.items()}


async def test_member_events_is_partitioned_on_postgres(
    session: AsyncSession, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    relkind = await session.scalar(
        text("SELECT relkind::text FROM pg_class WHERE relname = :n"), {"n": "member_events"}
    )
    assert relkind == "p"

    async def exists(name: str) -> bool:
        found = await session.scalar(text("SELECT to_regclass(:n)"), {"n": name})
        return found is not None

    assert not await exists("member_events_2031_05")
    assert await ensure_partitions(session, date(2031, 5, 1)) == 4
    for month in ("2031_05", "2031_06", "2031_07", "2031_08"):
        assert await exists(f"member_events_{month}")
    assert not await exists("member_events_2031_09")
    parent = await session.scalar(
        text(
            "SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = :n"
        ),
        {"n": "member_events_2031_05"},
    )
    assert parent == "member_events"
    # Idempotent: running again (the daily cron) changes nothing and does not fail.
    assert await ensure_partitions(session, date(2031, 5, 1)) == 4


async def test_partitions_across_a_year_end(session: AsyncSession, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    # Bounds are dates read in the session's time zone; pin it so the text below is stable.
    await session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
    await ensure_partitions(session, date(2032, 11, 20), months_ahead=2)
    bounds = await session.scalar(
        text("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = :n"),
        {"n": "member_events_2032_12"},
    )
    assert bounds == "FOR VALUES FROM ('2032-12-01 00:00:00+00') TO ('2033-01-01 00:00:00+00')"
    assert await session.scalar(text("SELECT to_regclass('member_events_2033_01')")) is not None


async def test_ensure_partitions_is_a_no_op_on_sqlite(
    session: AsyncSession, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("SQLite only")
    assert await ensure_partitions(session, date(2031, 5, 1)) == 0
