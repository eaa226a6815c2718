"""Proactive messages to a member: quiet hours, opt-outs, and the template fallback."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend.gyms.models import Gym
from backend.members.models import Member
from backend.messaging.models import OutboxMessage
from backend.messaging.service import queue_message


def _is_quiet(hour: int, start_hour: int, end_hour: int) -> bool:
    if start_hour > end_hour:  # overnight, e.g. 21–8
        return start_hour <= hour or hour < end_hour
    return start_hour <= hour < end_hour


def after_quiet_hours(now: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime:
    """`now` if it is outside the quiet hours (local), else the moment they end."""
    local = now.astimezone(tz)
    if not _is_quiet(local.hour, start_hour, end_hour):
        return now
    day = local.date() if local.hour < end_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end_hour), tz)


def quiet_since(moment: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime | None:
    """When the quiet hours around `moment` (local) began, or None outside them."""
    local = moment.astimezone(tz)
    if not _is_quiet(local.hour, start_hour, end_hour):
        return None
    day = local.date() if local.hour >= start_hour else local.date() - timedelta(days=1)
    return datetime.combine(day, time(start_hour), tz)


async def notify_member(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    body: str,
    now: datetime,
    purpose: str = "transactional",
    template_sid: str | None = None,
    template_values: dict[str, str] | None = None,
    quiet_hours: tuple[int, int] | None = (21, 8),
) -> OutboxMessage | None:
    """Queue a WhatsApp message the member did not ask for just now.

    Marketing is dropped for members who opted out (transactional notices still go).
    Inside quiet hours it waits for the morning. With a template it can reach a member
    outside WhatsApp's 24-hour window: the free-form body goes inside the window, the
    approved template outside it.
    """
    if purpose == "marketing" and not member.marketing_opt_in:
        return None
    send_at = now
    if quiet_hours is not None:
        send_at = after_quiet_hours(now, ZoneInfo(gym.timezone), *quiet_hours)
    return await queue_message(
        session,
        gym_id=gym.id,
        member_id=member.id,
        channel="whatsapp",
        to=member.whatsapp_address or f"whatsapp:{member.phone}",
        from_=f"whatsapp:{gym.whatsapp_number}",
        body=body,
        now=now,
        content_sid=template_sid,
        content_variables=template_values if template_sid else None,
        purpose=purpose,
        not_before=send_at,
    )
