"""The outbox: messages written with the change that caused them, sent by a job, retried."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations.models import Conversation, Message
from backend.conversations.service import (
    apply_stored_statuses,
    hold_provider_id,
    log_message,
    within_service_window,
)
from backend.db import transaction
from backend.jobs import enqueue_after_commit
from backend.messaging.models import OutboxMessage
from backend.messaging.sender import MessageSender, OutgoingMessage, SendFailed

log = logging.getLogger(__name__)

SEND_JOB = "send_outbox_message"
# Twilio's own error code for a free-form message outside the 24-hour window.
OUTSIDE_WINDOW_CODE = "63016"
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)


async def queue_message(
    session: AsyncSession,
    *,
    gym_id: int,
    member_id: int | None,
    channel: str,
    to: str,
    from_: str,
    body: str,
    now: datetime,
    content_sid: str | None = None,
    content_variables: dict[str, Any] | None = None,
    purpose: str = "transactional",
    reply_to_id: int | None = None,
    not_before: datetime | None = None,
    media_url: str | None = None,
) -> OutboxMessage:
    """Log the outbound message and queue it; it is sent only if the transaction commits
    (at `not_before` when given, e.g. after quiet hours)."""
    logged = log_message(
        session,
        gym_id=gym_id,
        member_id=member_id,
        channel=channel,
        direction="out",
        address=to,
        body=body,
        now=now,
        reply_to_id=reply_to_id,
        status="queued",
    )
    await session.flush()
    item = OutboxMessage(
        gym_id=gym_id,
        member_id=member_id,
        message_id=logged.id,
        channel=channel,
        to_address=to,
        from_address=from_,
        body=body,
        content_sid=content_sid,
        content_variables=content_variables,
        purpose=purpose,
        media_url=media_url,
        status="pending",
        attempts=0,
        next_attempt_at=max(now, not_before) if not_before else now,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    enqueue_after_commit(session, SEND_JOB, item.id, job_id=f"outbox:{item.id}")
    return item


async def due_outbox_ids(session: AsyncSession, now: datetime, limit: int = 100) -> list[int]:
    rows = await session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    )
    return list(rows.all())


def retry_delay(attempts: int) -> timedelta:
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


async def send_outbox_message(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: MessageSender,
    outbox_id: int,
    *,
    status_callback: str | None,
    max_attempts: int,
    clock: Callable[[], datetime],
) -> str:
    """Send one queued message in its own transaction; returns the outbox status after."""
    async with transaction(sessionmaker) as session:
        query = select(OutboxMessage).where(OutboxMessage.id == outbox_id)
        if session.bind.dialect.name == "postgresql":
            # Two workers sweeping at once never send the same row twice.
            query = query.with_for_update(skip_locked=True)
        item = await session.scalar(query)
        now = clock()
        if item is None or item.status != "pending" or item.next_attempt_at > now:
            return item.status if item else "missing"
        in_window = True
        if item.channel == "whatsapp" and (item.content_sid is None or item.body):
            convo = await session.scalar(
                select(Conversation).where(
                    Conversation.gym_id == item.gym_id,
                    Conversation.member_id == item.member_id,
                    Conversation.channel == item.channel,
                )
            )
            in_window = within_service_window(convo.last_inbound_at if convo else None, now)
            if not in_window and item.content_sid is None:
                await _finish(
                    session,
                    item,
                    "dead",
                    "failed",
                    OUTSIDE_WINDOW_CODE,
                    "outside the 24-hour window: an approved template is required",
                )
                return item.status
        # A message with both a body and a template sends the body inside the 24-hour
        # window and the approved template outside it.
        template = item.content_sid is not None and (not in_window or not item.body)
        message = OutgoingMessage(
            to=item.to_address,
            from_=item.from_address,
            body=item.body,
            content_sid=item.content_sid if template else None,
            content_variables=item.content_variables if template else None,
            status_callback=status_callback,
            media_url=None if template else item.media_url,
        )
        item.attempts += 1
        try:
            receipt = await sender.send(message)
        except SendFailed as exc:
            if exc.retryable and item.attempts < max_attempts:
                item.next_attempt_at = now + retry_delay(item.attempts)
                item.last_error = str(exc)[:300]
                log.warning("outbox %s attempt %s failed: %s", item.id, item.attempts, exc)
            else:
                await _finish(session, item, "dead", "failed", exc.code, str(exc))
            return item.status
        item.status, item.sent_at, item.last_error = "sent", now, None
        await hold_provider_id(session, item.channel, receipt.provider_id)
        logged = await session.get(Message, item.message_id)
        if logged is not None:
            logged.provider_id, logged.status = receipt.provider_id, "sent"
            await apply_stored_statuses(session, logged)
        return item.status


async def _finish(
    session: AsyncSession,
    item: OutboxMessage,
    outbox_status: str,
    message_status: str,
    code: str | None,
    error: str,
) -> None:
    item.status, item.last_error = outbox_status, error[:300]
    await session.execute(
        update(Message)
        .where(Message.id == item.message_id)
        .values(status=message_status, error_code=code)
    )
