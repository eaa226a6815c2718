"""`gogym chat` end to end: the console client against the real app on a live port, with
the Twilio simulator mounted in it (SIMULATE_PROVIDERS) and the in-process outbox sweeper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.checkins.models import CheckIn
from backend.conversations.models import Message
from backend.db import transaction
from backend.messaging.models import OutboxMessage
from backend.messaging.service import queue_message
from backend.runtime import SIM_TWILIO_PREFIX
from backend.settings import Settings
from backend.types import utcnow
from gogym.chat import ChatClient, whatsapp_address
from gogym.server import build_app
from tests.conftest import LiveServer
from tests.factories import make_member, make_subscription, standard_gym

T = TypeVar("T")
PHONE, GYM_NUMBER = "+5215512345678", "+14155238886"
CENTRO = (19.4326, -99.1332)
FAR_AWAY = (19.3000, -99.1900)  # ~15 km south


class _Deferred:
    """An ASGI app filled in after the server has its port: the app's settings need its URL."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture
def live_app(settings: Settings) -> Iterator[tuple[Settings, LiveServer]]:
    proxy = _Deferred()
    live = LiveServer(proxy)
    app_settings = settings.model_copy(
        update={
            "simulate_providers": True,
            "public_base_url": live.url,
            "outbox_poll_seconds": 0.2,
        }
    )
    proxy.app = build_app(app_settings)
    with live:
        yield app_settings, live


async def _eventually(check: Callable[[], Awaitable[T]], within: float = 10) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def test_whatsapp_address_adds_the_mexican_mobile_one() -> None:
    assert whatsapp_address("+525512345678") == "whatsapp:+5215512345678"
    assert whatsapp_address("+5215512345678") == "whatsapp:+5215512345678"
    assert whatsapp_address("whatsapp:+14155238886") == "whatsapp:+14155238886"


@pytest.fixture
async def ana(committed_sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """Committed before the server starts (its own engine sees only committed data):
    the standard gym and Ana, a paid-up Premium member. Returns (gym id, Ana's id)."""
    async with transaction(committed_sessionmaker) as session:
        gym, _centro, _norte, premium, _basico = await standard_gym(session)
        member = await make_member(session, gym)
        await make_subscription(session, member, premium)
        return gym.id, member.id


async def test_console_chat_end_to_end(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
    ana: tuple[int, int],
    live_app: tuple[Settings, LiveServer],
) -> None:
    app_settings, live = live_app
    gym_id, ana_id = ana

    client = ChatClient(app_settings, live.url, PHONE, GYM_NUMBER, "Ana")
    try:
        # A text message through the signed webhook; the answer comes back as TwiML.
        replies = await asyncio.to_thread(client.send, "hola")
        assert replies and all(replies)
        assert "Hola, Ana" in replies[0] and "ayudo" in replies[0]

        # A location pin: too far first, then at the front door.
        far = await asyncio.to_thread(client.send, "", location=FAR_AWAY)
        assert len(far) == 1 and "más cercana" in far[0] and "km" in far[0]
        near = await asyncio.to_thread(client.send, "", location=CENTRO)
        assert len(near) == 1
        assert "Listo, Ana" in near[0] and "GoGym Centro" in near[0] and "✅" in near[0]
        async with committed_sessionmaker() as session:
            visits = list(await session.scalars(select(CheckIn).where(CheckIn.member_id == ana_id)))
        assert [(v.method, v.latitude, v.longitude) for v in visits] == [("location", *CENTRO)]

        # Nothing went through the simulated Twilio API so far: replies were inline.
        assert await asyncio.to_thread(client.outbox) == []

        # A message queued by the backend (inside the 24 h window "hola" opened) leaves
        # through the outbox: the in-process sweeper sends it to the simulator.
        body = "Tu recibo de noviembre está listo 🧾"
        async with transaction(committed_sessionmaker) as session:
            item = await queue_message(
                session,
                gym_id=gym_id,
                member_id=ana_id,
                channel="whatsapp",
                to=client.sender,
                from_=client.to,
                body=body,
                now=utcnow(),
            )
            outbox_id, message_id = item.id, item.message_id

        async def received() -> list[str]:
            return await asyncio.to_thread(client.outbox)

        assert await _eventually(received) == [body]
        assert await asyncio.to_thread(client.outbox) == []  # shown once

        async with httpx.AsyncClient(base_url=live.url) as http:
            listed = await http.get(
                f"{SIM_TWILIO_PREFIX}/outbox", params={"to": client.sender, "after": 0}
            )
        assert [m["body"] for m in listed.json()["messages"]] == [body]  # sent exactly once

        # The simulator's signed status callbacks move the logged message to "delivered".
        async def delivered() -> Message | None:
            async with committed_sessionmaker() as session:
                msg = await session.get(Message, message_id)
                return msg if msg is not None and msg.status == "delivered" else None

        msg = await _eventually(delivered)
        assert msg is not None, "status callback never marked the message delivered"
        assert msg.provider_id and msg.provider_id.startswith("SM")
        async with committed_sessionmaker() as session:
            outbox = await session.get(OutboxMessage, outbox_id)
        assert outbox is not None and (outbox.status, outbox.attempts) == ("sent", 1)
    finally:
        client.http.close()


async def test_unsigned_webhook_is_refused(live_app: tuple[Settings, LiveServer]) -> None:
    app_settings, live = live_app
    forged = app_settings.model_copy(update={"twilio_auth_token": "not-the-token"})
    client = ChatClient(forged, live.url, PHONE, GYM_NUMBER, "Ana")
    try:
        [reply] = await asyncio.to_thread(client.send, "hola")
    finally:
        client.http.close()
    assert reply.startswith("[HTTP 403]")
