"""ARCO requests under Mexico's LFPDPPP: access (an export of the member's personal data)
and cancellation (deletion), verified with a code sent in the chat and tracked against the
legal deadline of 20 business days (art. 32). Executing a deletion anonymizes personal
data and keeps what tax law requires (invoices and payments: 5 years, CFF art. 30)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Subscription
from backend.billing.subscriptions import LIVE
from backend.billing.transitions import transition
from backend.checkins.models import CheckIn
from backend.conversations.models import Conversation, Message
from backend.errors import Conflict, NotFound
from backend.handoff.models import HandoffTicket
from backend.members.models import Member, MemberEvent
from backend.members.service import audit, record_event
from backend.messaging.models import OutboxMessage
from backend.payments.models import PaymentMethod
from backend.privacy.models import PrivacyRequest

DEADLINE_BUSINESS_DAYS = 20
CODE_TTL = timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 3
TAX_RETENTION_YEARS = 5
# member_events data keys that may hold free text a member wrote.
_FREE_TEXT_KEYS = ("text", "reason_text", "summary", "comment")


def _mexican_holidays(year: int) -> set[date]:
    """Official rest days (Ley Federal del Trabajo art. 74) that are not business days."""

    def nth_monday(month: int, n: int) -> date:
        first = date(year, month, 1)
        offset = (7 - first.weekday()) % 7
        return first + timedelta(days=offset + 7 * (n - 1))

    days = {
        date(year, 1, 1),
        nth_monday(2, 1),
        nth_monday(3, 3),
        date(year, 5, 1),
        date(year, 9, 16),
        nth_monday(11, 3),
        date(year, 12, 25),
    }
    if (year - 2024) % 6 == 0:  # change of federal government
        days.add(date(year, 10, 1))
    return days


def add_business_days(start: date, days: int) -> date:
    """`days` business days after `start` (weekends and official rest days skipped)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in _mexican_holidays(current.year):
            left -= 1
    return current


def _code_hash(request_id: int, code: str) -> str:
    return hashlib.sha256(f"{request_id}:{code}".encode()).hexdigest()


async def record_access(
    session: AsyncSession, member: Member, *, channel: str, actor: str, now: datetime
) -> PrivacyRequest:
    """An access request answered at once (the export is sent in the chat)."""
    request = PrivacyRequest(
        gym_id=member.gym_id,
        member_id=member.id,
        kind="access",
        status="completed",
        channel=channel,
        requested_at=now,
        verified_at=now,
        due_at=now,
        completed_at=now,
        completed_by=actor,
        result={"delivered": "export"},
    )
    session.add(request)
    await session.flush()
    await record_event(
        session, member.gym_id, member.id, "privacy_access", {"request_id": request.id}, now
    )
    await audit(session, member.gym_id, actor, "privacy.export", "privacy_request", request.id, {})
    return request


async def start_deletion(
    session: AsyncSession, member: Member, *, channel: str, now: datetime
) -> tuple[PrivacyRequest, str]:
    """A deletion request waiting for the member to send back the code; returns the code."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    request = PrivacyRequest(
        gym_id=member.gym_id,
        member_id=member.id,
        kind="deletion",
        status="pending_verification",
        channel=channel,
        requested_at=now,
        code_expires_at=now + CODE_TTL,
        attempts=0,
    )
    session.add(request)
    await session.flush()
    request.code_hash = _code_hash(request.id, code)
    await audit(
        session,
        member.gym_id,
        f"member:{member.id}",
        "privacy.deletion_requested",
        "privacy_request",
        request.id,
        {"channel": channel},
    )
    return request, code


class CodeMismatch(Conflict):
    code = "privacy_code_mismatch"


async def verify_deletion(
    session: AsyncSession, gym_id: int, request_id: int, code: str, *, now: datetime
) -> PrivacyRequest:
    """Check the code; a verified request starts the legal clock (20 business days)."""
    request = await get_request(session, gym_id, request_id)
    if request.status != "pending_verification":
        return request
    expired = request.code_expires_at is not None and request.code_expires_at <= now
    if expired or request.attempts >= MAX_CODE_ATTEMPTS:
        request.status = "canceled"
        raise CodeMismatch("El código venció.", "The code expired.", {"expired": True})
    request.attempts += 1
    given = _code_hash(request.id, code.strip())
    if request.code_hash is None or not hmac.compare_digest(given, request.code_hash):
        raise CodeMismatch(
            "El código no coincide.",
            "The code does not match.",
            {"attempts_left": MAX_CODE_ATTEMPTS - request.attempts},
        )
    request.status, request.verified_at, request.code_hash = "open", now, None
    request.due_at = datetime.combine(
        add_business_days(now.date(), DEADLINE_BUSINESS_DAYS), now.timetz()
    )
    await record_event(
        session,
        gym_id,
        request.member_id,
        "privacy_deletion_requested",
        {"request_id": request.id, "due_at": request.due_at.isoformat()},
        now,
    )
    await audit(
        session,
        gym_id,
        f"member:{request.member_id}",
        "privacy.deletion_verified",
        "privacy_request",
        request.id,
        {"due_at": request.due_at.isoformat()},
    )
    return request


async def cancel_request(
    session: AsyncSession, gym_id: int, request_id: int, *, actor: str
) -> PrivacyRequest:
    request = await get_request(session, gym_id, request_id)
    if request.status in ("completed", "canceled"):
        return request
    request.status = "canceled"
    await audit(session, gym_id, actor, "privacy.request_canceled", "privacy_request", request.id)
    return request


async def get_request(session: AsyncSession, gym_id: int, request_id: int) -> PrivacyRequest:
    request = await session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.id == request_id, PrivacyRequest.gym_id == gym_id
        )
    )
    if request is None:
        raise NotFound("Esa solicitud no existe.", "No such request.")
    return request


async def open_deletion_of(
    session: AsyncSession, gym_id: int, member_id: int
) -> PrivacyRequest | None:
    return await session.scalar(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.gym_id == gym_id,
            PrivacyRequest.member_id == member_id,
            PrivacyRequest.kind == "deletion",
            PrivacyRequest.status == "open",
        )
        .order_by(PrivacyRequest.id.desc())
        .limit(1)
    )


async def execute_deletion(
    session: AsyncSession, gym_id: int, request_id: int, *, actor: str, now: datetime
) -> PrivacyRequest:
    """Anonymize the member: personal data goes, what tax law keeps stays (recorded)."""
    request = await get_request(session, gym_id, request_id)
    if request.kind != "deletion":
        raise Conflict("Esa solicitud no es de borrado.", "That is not a deletion request.")
    if request.status == "completed":
        return request
    if request.status != "open":
        raise Conflict(
            "La solicitud no está verificada o fue cancelada.",
            "The request is not verified or was canceled.",
            {"status": request.status},
        )
    member = await session.get(Member, request.member_id)
    assert member is not None and member.gym_id == gym_id
    done: dict[str, Any] = {}

    ended = []
    for sub in (
        await session.scalars(
            select(Subscription).where(
                Subscription.member_id == member.id, Subscription.status.in_(LIVE)
            )
        )
    ).all():
        sub.canceled_at = now
        sub.cancel_reason = "privacy_deletion"
        await transition(session, sub, "canceled", actor=actor, now=now, why="privacy deletion")
        ended.append(sub.id)
    done["subscriptions_canceled"] = ended

    member.name = None
    member.phone = f"deleted-{member.id}"
    member.whatsapp_address = None
    member.status = "inactive"
    member.marketing_opt_in, member.marketing_opt_in_at = False, now
    member.biometrics_opt_in, member.biometrics_opt_in_at = False, now
    done["profile"] = "anonymized (name, phone, WhatsApp address, consents)"

    messages = await session.execute(
        update(Message)
        .where(Message.gym_id == gym_id, Message.member_id == member.id)
        .values(body="", address="deleted", media=None)
    )
    done["messages_redacted"] = int(getattr(messages, "rowcount", 0) or 0)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.gym_id == gym_id, OutboxMessage.member_id == member.id)
        .values(body="", to_address="deleted", media_url=None, content_variables=None)
    )
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.gym_id == gym_id,
            OutboxMessage.member_id == member.id,
            OutboxMessage.status == "pending",
        )
        .values(status="dead", last_error="member data deleted")
    )
    await session.execute(
        delete(Conversation).where(
            Conversation.gym_id == gym_id, Conversation.member_id == member.id
        )
    )
    await session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.gym_id == gym_id, HandoffTicket.member_id == member.id)
        .values(summary="", context=[])
    )
    places = await session.execute(
        update(CheckIn)
        .where(CheckIn.gym_id == gym_id, CheckIn.member_id == member.id)
        .values(latitude=None, longitude=None)
    )
    done["check_in_locations_removed"] = int(getattr(places, "rowcount", 0) or 0)
    cards = await session.execute(
        update(PaymentMethod)
        .where(
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.member_id == member.id,
            PaymentMethod.deleted_at.is_(None),
        )
        .values(deleted_at=now, is_default=False, fingerprint=None)
    )
    done["cards_removed"] = int(getattr(cards, "rowcount", 0) or 0)
    scrubbed = 0
    for event in (
        await session.scalars(
            select(MemberEvent).where(
                MemberEvent.gym_id == gym_id, MemberEvent.member_id == member.id
            )
        )
    ).all():
        data = dict(event.data or {})
        if any(k in data for k in _FREE_TEXT_KEYS):
            for key in _FREE_TEXT_KEYS:
                data.pop(key, None)
            event.data = data
            scrubbed += 1
    done["event_texts_removed"] = scrubbed
    keep_until = date(now.year + TAX_RETENTION_YEARS, now.month, min(now.day, 28))
    done["kept"] = {
        "invoices_and_payments": f"until {keep_until.isoformat()} (CFF art. 30)",
        "visits_and_bookings": "anonymous statistics (no name, phone or location)",
    }
    request.status, request.completed_at, request.completed_by = "completed", now, actor
    request.result = done
    await audit(
        session, gym_id, actor, "privacy.deletion_executed", "privacy_request", request.id, done
    )
    await audit(
        session, gym_id, actor, "member.anonymized", "member", member.id, {"request_id": request.id}
    )
    return request
