"""How amounts, times and dates read in a WhatsApp message, per language."""

from __future__ import annotations

from datetime import date, datetime

_MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def money(cents: int) -> str:
    """MXN as Mexicans write it: $7,990 or $499.50."""
    pesos, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}${pesos:,}" + (f".{rest:02d}" if rest else "")


def clock(local: datetime, lang: str) -> str:
    hour = local.hour % 12 or 12
    if lang == "en":
        return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    return f"{hour}:{local.minute:02d} {'a.m.' if local.hour < 12 else 'p.m.'}"


def day(d: date, lang: str) -> str:
    if lang == "en":
        return d.strftime("%B ") + str(d.day)
    return f"{d.day} de {_MONTHS_ES[d.month - 1]}"


def distance(meters: float) -> str:
    return f"{meters / 1000:.1f} km" if meters >= 1000 else f"{round(meters / 10) * 10:.0f} m"


def join_list(items: list[str], conjunction: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
