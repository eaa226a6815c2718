"""What the gym tells members about their classes on its own initiative (through the
outbox): promotions from the waitlist, reminders, moved and canceled sessions.

Chat replies live in the dialogs catalogs; these are sent by backend jobs and staff
actions, which cannot reach the dialogs package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend.gyms.models import Gym
from backend.members.models import Member
from backend.messaging.service import queue_message

_WEEKDAYS = {
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS = {
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "class_promoted": (
            "¡Buenas noticias! 🎉 Se liberó un lugar y ya estás dentro de *{cls}* el {when} "
            "en {location}.{credits} Si ya no puedes ir, escribe *cancelar clase*."
        ),
        "class_reminder": (
            "⏰ Recordatorio: tu clase de *{cls}* es hoy a las {time} en {location}"
            "{instructor}. ¡Te esperamos! Si no puedes ir, escribe *cancelar clase*."
        ),
        "class_reminder_tomorrow": (
            "⏰ Recordatorio: tu clase de *{cls}* es mañana a las {time} en {location}"
            "{instructor}. ¡Te esperamos! Si no puedes ir, escribe *cancelar clase*."
        ),
        "class_session_canceled": (
            "😕 Se canceló la clase de *{cls}* del {when} en {location}{reason}.{credit} "
            "Perdón por el cambio; escribe *clases* para ver otros horarios."
        ),
        "class_moved": (
            "📅 Cambio en tu clase de *{cls}*: ahora es el {when} en {location}. Tu lugar "
            "sigue apartado; si no puedes, escribe *cancelar clase*."
        ),
        "class_waitlist_dropped": (
            "Se liberó un lugar en *{cls}* ({when}), pero no pude dártelo: {reason}. "
            "Pasa a recepción si tienes dudas."
        ),
        "credit_back": " Te devolví tu clase.",
        "credits_left": " Te quedan {n} clases.",
        "reason": " ({reason})",
        "with": ", con {name}",
        "no_credits": "ya no te quedan clases en tu plan",
        "no_access": "tu plan no incluye esta clase o no está activo",
    },
    "en": {
        "class_promoted": (
            "Good news! 🎉 A spot opened up and you're in *{cls}* on {when} at {location}."
            "{credits} If you can't make it, write *cancel class*."
        ),
        "class_reminder": (
            "⏰ Reminder: your *{cls}* class is today at {time} at {location}{instructor}. "
            "See you there! If you can't make it, write *cancel class*."
        ),
        "class_reminder_tomorrow": (
            "⏰ Reminder: your *{cls}* class is tomorrow at {time} at {location}{instructor}. "
            "See you there! If you can't make it, write *cancel class*."
        ),
        "class_session_canceled": (
            "😕 The *{cls}* class on {when} at {location} was canceled{reason}.{credit} "
            "Sorry about that; write *classes* to see other times."
        ),
        "class_moved": (
            "📅 Change to your *{cls}* class: it's now on {when} at {location}. Your spot is "
            "still held; if you can't make it, write *cancel class*."
        ),
        "class_waitlist_dropped": (
            "A spot opened up in *{cls}* ({when}), but I couldn't give it to you: {reason}. "
            "Ask at the front desk if you have questions."
        ),
        "credit_back": " Your class credit was returned.",
        "credits_left": " You have {n} classes left.",
        "reason": " ({reason})",
        "with": ", with {name}",
        "no_credits": "you have no classes left on your plan",
        "no_access": "your plan doesn't include this class or isn't active",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    table = TEXTS.get(lang, TEXTS["es"])
    return table.get(key, TEXTS["es"][key]).format(**values)


def clock(local: datetime, lang: str) -> str:
    hour = local.hour % 12 or 12
    if lang == "en":
        return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    return f"{hour}:{local.minute:02d} {'a.m.' if local.hour < 12 else 'p.m.'}"


def when(at: datetime, tz: ZoneInfo, lang: str) -> str:
    """'mar 25 nov, 7:00 a.m.' in the gym's zone."""
    local = at.astimezone(tz)
    lang = lang if lang in _WEEKDAYS else "es"
    day = f"{_WEEKDAYS[lang][local.weekday()]} {local.day} {_MONTHS[lang][local.month - 1]}"
    if lang == "en":
        day = f"{_WEEKDAYS[lang][local.weekday()]} {_MONTHS[lang][local.month - 1]} {local.day}"
    return f"{day}, {clock(local, lang)}"


async def notify_member(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    body: str,
    now: datetime,
    template_sid: str | None = None,
    template_values: dict[str, str] | None = None,
) -> None:
    """Queue a transactional WhatsApp message (the gym's approved template when one is
    configured, since the member may be outside the 24-hour service window)."""
    await queue_message(
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
        purpose="transactional",
    )
