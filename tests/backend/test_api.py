"""The shared REST plumbing: one transaction per request, committed before the answer
leaves, and opaque keyset cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    get_session,
    page_params,
    paginate,
)
from backend.app import create_app
from backend.errors import Conflict, InvalidInput
from backend.gyms.models import Gym
from backend.members.models import Member
from tests.factories import make_gym, make_member


class FailingCommit(AsyncSession):
    async def commit(self) -> None:
        raise RuntimeError("the database went away at commit")


def _app(maker: async_sessionmaker[AsyncSession]) -> FastAPI:
    router = APIRouter()

    @router.post("/gyms/{slug}")
    async def create(slug: str, session: AsyncSession = Depends(get_session)) -> dict[str, str]:
        await make_gym(session, slug=slug, whatsapp_number=f"+1415555{len(slug):04d}")
        if slug == "conflict":
            raise Conflict("Ya existe.", "Already exists.")
        return {"slug": slug}

    @router.get("/gyms")
    async def page(
        params: PageParams = Depends(page_params), session: AsyncSession = Depends(get_session)
    ) -> Page[str]:
        rows, cursor = await paginate(session, select(Gym), params, (Gym.created_at, Gym.id))
        return Page(items=[g.slug for g in rows], next_cursor=cursor)

    app = create_app([router])
    app.state.sessionmaker = maker
    return app


@pytest.fixture
async def client_for(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(failing: bool = False) -> httpx.AsyncClient:
        maker = (
            async_sessionmaker(**(sessionmaker.kw | {"class_": FailingCommit}))
            if failing
            else sessionmaker
        )
        transport = httpx.ASGITransport(app=_app(maker), raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


async def _gyms(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Gym)) or 0)


async def test_success_commits_before_the_answer(client_for: Any, session: AsyncSession) -> None:
    response = await client_for().post("/gyms/uno")
    assert response.status_code == 200
    assert await _gyms(session) == 1


async def test_a_domain_error_rolls_everything_back(client_for: Any, session: AsyncSession) -> None:
    response = await client_for().post("/gyms/conflict")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert await _gyms(session) == 0


async def test_a_failed_commit_is_a_500_never_a_2xx(client_for: Any, session: AsyncSession) -> None:
    response = await client_for(failing=True).post("/gyms/dos")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert await _gyms(session) == 0


async def test_paginate_walks_every_row_once(client_for: Any, session: AsyncSession) -> None:
    client = client_for()
    for slug in ("a", "bb", "ccc", "dddd", "eeeee"):
        assert (await client.post(f"/gyms/{slug}")).status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/gyms", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["a", "bb", "ccc", "dddd", "eeeee"] and len(seen) == 5


def test_cursor_round_trip_and_tampering() -> None:
    at = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    cursor = encode_cursor([at, 42])
    assert "=" not in cursor
    assert decode_cursor(cursor, (Member.created_at, Member.id)) == [at, 42]
    for bad in ("", "!!!", encode_cursor([42]), encode_cursor(["2026-05-01T12:30:00", 1])):
        with pytest.raises(InvalidInput):
            decode_cursor(bad, (Member.created_at, Member.id))
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor([[1]]), (Member.id,))


async def test_paginate_ascending_by_id(session: AsyncSession) -> None:
    gym = await make_gym(session)
    ids = [(await make_member(session, gym, phone=f"+5255100000{i:02d}")).id for i in range(5)]
    stmt = select(Member).where(Member.gym_id == gym.id)
    first, cursor = await paginate(session, stmt, PageParams(3), (Member.id,), descending=False)
    assert [m.id for m in first] == ids[:3] and cursor
    rest, end = await paginate(session, stmt, PageParams(3, cursor), (Member.id,), descending=False)
    assert [m.id for m in rest] == ids[3:] and end is None
