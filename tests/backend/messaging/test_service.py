"""The outbox through the real Twilio adapter against the local Twilio API simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations.models import Conversation, Message
from backend.integrations.twilio import TwilioMessageSender
from backend.integrations.twilio_sim import TwilioSimulator
from backend.messaging.models import OutboxMessage
from backend.messaging.service import due_outbox_ids, queue_message, send_outbox_message
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import make_gym, make_member

TO, FROM = "whatsapp:+5215512345678", "whatsapp:+14155238886"


async def _queued(session: AsyncSession, *, in_window: bool = True, **kw: Any) -> OutboxMessage:
    gym = await make_gym(session)
    member = await make_member(session, gym)
    now = utcnow()
    session.add(
        Conversation(
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            slots={},
            last_inbound_at=now - timedelta(hours=1 if in_window else 30),
        )
    )
    item = await queue_message(
        session,
        gym_id=gym.id,
        member_id=member.id,
        channel="whatsapp",
        to=TO,
        from_=FROM,
        body="Tu recibo está listo ✅",
        now=now,
        **kw,
    )
    await session.commit()
    return item


async def _logged(session: AsyncSession, item: OutboxMessage) -> Message | None:
    """The outbound log row of an outbox item, as the sending transaction left it."""
    logged = await session.get(Message, item.message_id)
    if logged is not None:
        await session.refresh(logged)
    return logged


def _sender(settings: Settings, base_url: str) -> TwilioMessageSender:
    return TwilioMessageSender(settings.twilio_account_sid, settings.twilio_auth_token, base_url)


async def _send(
    sm: async_sessionmaker[AsyncSession], sender: Any, item_id: int, clock: Any = utcnow
) -> str:
    return await send_outbox_message(
        sm, sender, item_id, status_callback=None, max_attempts=3, clock=clock
    )


async def test_queued_message_is_sent_once_through_twilio(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    sim, base = twilio_api
    item = await _queued(session)
    assert session.info.get("after_commit") is None  # no queue wired: the sweep sends it
    sender = _sender(settings, base)
    assert await _send(sessionmaker, sender, item.id) == "sent"
    assert await _send(sessionmaker, sender, item.id) == "sent"  # a re-run sends nothing
    assert [m.body for m in sim.messages_to(TO)] == ["Tu recibo está listo ✅"]
    logged = await _logged(session, item)
    assert logged is not None and logged.status == "sent"
    assert logged.provider_id == sim.sent[-1].sid


async def test_server_errors_are_retried_with_backoff_then_succeed(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    sim, base = twilio_api
    sim.fail_next(503, 20503, "Service unavailable")
    item = await _queued(session)
    sender = _sender(settings, base)
    assert await _send(sessionmaker, sender, item.id) == "pending"
    await session.refresh(item)
    assert item.attempts == 1 and item.next_attempt_at > utcnow()
    assert await due_outbox_ids(session, utcnow()) == []
    later = utcnow() + timedelta(minutes=2)
    assert await due_outbox_ids(session, later) == [item.id]
    assert await _send(sessionmaker, sender, item.id, clock=lambda: later) == "sent"
    assert len(sim.messages_to(TO)) == 1


async def test_client_errors_are_not_retried(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    sim, base = twilio_api
    sim.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
    item = await _queued(session)
    assert await _send(sessionmaker, _sender(settings, base), item.id) == "dead"
    logged = await _logged(session, item)
    assert logged is not None and logged.status == "failed" and logged.error_code == "21211"


async def test_free_text_outside_24h_window_is_not_sent(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    sim, base = twilio_api
    item = await _queued(session, in_window=False)
    assert await _send(sessionmaker, _sender(settings, base), item.id) == "dead"
    assert sim.messages_to(TO) == []
    logged = await _logged(session, item)
    assert logged is not None and logged.error_code == "63016"


async def test_template_goes_out_even_outside_the_window(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    sim, base = twilio_api
    item = await _queued(
        session, in_window=False, content_sid="HX" + "0" * 32, content_variables={"1": "Ana"}
    )
    assert await _send(sessionmaker, _sender(settings, base), item.id) == "sent"
    assert sim.messages_to(TO)[0].content_sid == "HX" + "0" * 32


async def test_unreachable_twilio_is_retryable(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> None:
    item = await _queued(session)
    sender = _sender(settings, "http://127.0.0.1:9")  # nothing listens on the discard port
    assert await _send(sessionmaker, sender, item.id) == "pending"


async def test_bad_credentials_are_a_permanent_failure(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    twilio_api: tuple[TwilioSimulator, str],
) -> None:
    _, base = twilio_api
    item = await _queued(session)
    wrong = TwilioMessageSender(settings.twilio_account_sid, "wrong-token", base)
    assert await _send(sessionmaker, wrong, item.id) == "dead"
