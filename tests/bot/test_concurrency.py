"""One member's messages are handled one at a time; different members in parallel;
a re-delivered message is applied once even when the copies arrive together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.checkins.codes import checkin_text, daily_code
from backend.checkins.models import CheckIn
from backend.conversations.models import Message
from backend.db import transaction
from backend.runtime import Runtime
from backend.settings import Settings
from backend.types import utcnow
from gogym.server import build_app
from tests.conftest import NoSender
from tests.factories import make_member, make_subscription, standard_gym
from tests.whatsapp import RecordingJobs, WhatsApp


@pytest.fixture
async def live(
    settings: Settings, committed_sessionmaker: async_sessionmaker[AsyncSession], nlu_model: Any
) -> AsyncIterator[tuple[WhatsApp, async_sessionmaker[AsyncSession], str]]:
    engine = committed_sessionmaker.kw["bind"]
    runtime = Runtime(settings, engine, committed_sessionmaker, NoSender())
    runtime.use_jobs(RecordingJobs())
    async with transaction(committed_sessionmaker) as s:
        gym, centro, _, premium, _ = await standard_gym(s)
        for i in range(20):
            member = await make_member(s, gym, phone=f"+5255100000{i:02d}", name=f"Socio {i}")
            await make_subscription(s, member, premium)
        code = checkin_text(
            "centro",
            daily_code(
                settings.secret_key, centro.id, utcnow().astimezone(ZoneInfo(gym.timezone)).date()
            ),
        )
    app = build_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
            yield WhatsApp(client, settings), committed_sessionmaker, code


async def _count(sm: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_one_members_burst_is_serialized(live: tuple[WhatsApp, Any, str]) -> None:
    wa, sm, code = live
    wa.phone = "whatsapp:+5215510000003"
    replies = await asyncio.gather(*(wa.say(code) for _ in range(8)))
    assert sum("✅" in r for r in replies) == 1
    assert sum("Ya registraste" in r for r in replies) == 7
    assert await _count(sm, CheckIn) == 1


async def test_many_members_check_in_in_parallel(live: tuple[WhatsApp, Any, str]) -> None:
    wa, sm, code = live

    async def member(i: int) -> str:
        other = WhatsApp(wa.client, wa.settings, phone=f"whatsapp:+52155100000{i:02d}")
        return await other.say(code)

    replies = await asyncio.gather(*(member(i) for i in range(20)))
    assert all("✅" in r for r in replies), replies
    assert await _count(sm, CheckIn) == 20


async def test_same_delivery_arriving_together_is_applied_once(
    live: tuple[WhatsApp, Any, str],
) -> None:
    wa, sm, code = live
    wa.phone = "whatsapp:+5215510000007"
    form = wa.form(code)
    responses = await asyncio.gather(*(wa.post(form) for _ in range(5)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert await _count(sm, CheckIn) == 1
    assert await _count(sm, Message) == 2
