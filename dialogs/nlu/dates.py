"""Date and time expressions in members' Spanish and English, resolved in the gym's zone.

`resolve_when("mañana a las 7", now)` → tomorrow 07:00. `now` is timezone-aware in the
gym's zone; the result is a local date and (when one was said) a local wall-clock time,
with the character span of the expression in the original text.

Rules for a gym: an hour without am/pm ("a las 7") is the next upcoming one on that day
(today at 10:00 → 19:00; tomorrow → 07:00); 1–5 without a marker are afternoon hours
(nobody books a class at 3 a.m.); a bare time already past today means tomorrow. A weekday
is its next occurrence, today included ("el jueves" on a Thursday is today; "el próximo
jueves" is next week's); a day and month already past this year is next year's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dialogs.nlu.normalize import fold_with_positions

# Parts of the day as members say them, to the normalized name.
_PARTS = {
    "manana": "morning",
    "madrugada": "morning",
    "morning": "morning",
    "mediodia": "afternoon",
    "tarde": "afternoon",
    "afternoon": "afternoon",
    "noche": "night",
    "evening": "night",
    "night": "night",
}
_MONTHS = {
    "enero": 1, "ene": 1, "january": 1, "jan": 1,
    "febrero": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "abril": 4, "abr": 4, "april": 4, "apr": 4,
    "mayo": 5, "may": 5,
    "junio": 6, "jun": 6, "june": 6,
    "julio": 7, "jul": 7, "july": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "septiembre": 9, "setiembre": 9, "sept": 9, "sep": 9, "september": 9,
    "octubre": 10, "oct": 10, "october": 10,
    "noviembre": 11, "nov": 11, "november": 11,
    "diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS = {
    "lunes": 0, "monday": 0,
    "martes": 1, "tuesday": 1, "tues": 1,
    "miercoles": 2, "wednesday": 2, "weds": 2,
    "jueves": 3, "thursday": 3, "thurs": 3,
    "viernes": 4, "friday": 4,
    "sabado": 5, "saturday": 5,
    "domingo": 6, "sunday": 6,
}  # fmt: skip
_HOUR_WORDS = {
    "una": 1, "one": 1, "dos": 2, "two": 2, "tres": 3, "three": 3, "cuatro": 4, "four": 4,
    "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7, "seven": 7, "ocho": 8,
    "eight": 8, "nueve": 9, "nine": 9, "diez": 10, "ten": 10, "once": 11, "eleven": 11,
    "doce": 12, "twelve": 12,
}  # fmt: skip

_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_HOUR_WORD_RE = "|".join(sorted(_HOUR_WORDS, key=len, reverse=True))

_AMPM = r"(?P<ampm>a\.?\s?m\b\.?|p\.?\s?m\b\.?)"
_PART_AFTER = (
    r"(?:(?:de|en|por)\s+la\s+|in\s+the\s+|at\s+)(?P<part>manana|madrugada|tarde|noche"
    r"|morning|afternoon|evening|night)\b"
)
_FRACTION = r"(?:\s+y\s+(?P<frac>media|cuarto))"
_HOUR = rf"(?:(?P<h>\d{{1,2}})(?:[:.](?P<m>[0-5]\d))?|(?P<hw>{_HOUR_WORD_RE}))"
# "a las 7", "a la 1:30 pm", "como a las 8 de la noche", "at 6", "7pm", "19:30", "19 hrs".
_TIME = re.compile(
    rf"\b(?:(?P<prefix>(?:como\s+|tipo\s+|eso\s+de\s+)?a\s+las?|at|around|by)\s+)?"
    rf"{_HOUR}{_FRACTION}?"
    rf"(?:\s*{_AMPM}|\s*(?P<hrs>hrs?\b|horas\b|h\b)|\s+{_PART_AFTER})?"
)
_NOON = re.compile(
    r"\b(?:(?:al|a\s+las?)\s+)?(?P<w>mediodia|medio\s+dia|noon|medianoche|midnight)\b"
)
# A part of the day on its own: "en la tarde", "esta noche", "tonight", "this morning".
_PART = re.compile(
    r"\b(?:(?:en|por)\s+la\s+|esta\s+|this\s+|in\s+the\s+)(?P<part>manana|tarde|noche"
    r"|morning|afternoon|evening)\b|\b(?P<tonight>tonight|tonite|2nite)\b"
    r"|\b(?P<early>temprano|early)\b"
)
_RELATIVE = re.compile(
    r"\b(?:(?P<after>pasado\s+(?:manana|mnn)|day\s+after\s+tomorrow)"
    r"|(?<!la\s)(?<!las\s)(?<!por\s)(?P<tomorrow>manana|mnn|maniana|tomorrow|tmrw|tmr|2morrow)"
    r"|(?P<today>hoy|today|ahorita))\b"
)
_WEEKDAY = re.compile(
    rf"\b(?:(?P<mod>el\s+proximo|el\s+siguiente|proximo|siguiente|next|este|el|this|on)\s+)?"
    rf"(?P<wd>{_WEEKDAY_RE})\b(?P<next>\s+(?:que\s+viene|proximo|de\s+la\s+otra\s+semana))?"
)
_WEEKEND = re.compile(r"\b(?:el\s+|este\s+|this\s+)?(?:fin\s+de\s+semana|finde|weekend)\b")
_DAY_MONTH = re.compile(
    rf"\b(?:el\s+)?(?:dia\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:de\s+|of\s+)?"
    rf"(?P<mon>{_MONTH_RE})\b\.?(?:\s*(?:de\s+|del\s+|,\s*)?(?P<y>\d{{4}}))?"
)
_MONTH_DAY = re.compile(
    rf"\b(?P<mon>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(?P<y>\d{{4}}))?"
)
_NUMERIC = re.compile(r"\b(?P<d>\d{1,2})/(?P<mon>\d{1,2})(?:/(?P<y>\d{2}|\d{4}))?\b")
_DAY_OF_MONTH = re.compile(r"\b(?:el\s+(?:dia\s+)?|on\s+the\s+)(?P<d>\d{1,2})(?:st|nd|rd|th)?\b")

# Afternoon and night start here (for "en la tarde" with an hour, and for picking 7 am/pm).
_EARLIEST_PLAUSIBLE_HOUR = 6


@dataclass(frozen=True)
class When:
    """A resolved expression: local date, local time if one was said, and its span."""

    date: date
    time: time | None
    start: int
    end: int
    text: str
    part_of_day: str | None = None  # morning | afternoon | night, when said without an hour


@dataclass(frozen=True)
class _Found:
    start: int  # in the folded text
    end: int


@dataclass(frozen=True)
class _Day(_Found):
    day: date
    explicit_today: bool = False


@dataclass(frozen=True)
class _Time(_Found):
    hour: int
    minute: int
    meridiem: str | None  # "am" | "pm" | None when not said


@dataclass(frozen=True)
class _Part(_Found):
    part: str
    today: bool = False


def resolve_when(text: str, now: datetime) -> When | None:
    """The first date/time expression in `text`, resolved relative to `now` (aware, in the
    gym's zone); None when the text names no day, time or part of the day."""
    if not text:
        return None
    folded, positions = fold_with_positions(text[:2000])
    folded = folded.replace("ñ", "n")
    today = now.date()
    clock = _find_time(folded)
    taken: list[_Found] = [clock] if clock else []
    part = _find_part(folded, taken)
    if part:
        taken.append(part)
    day = _find_day(folded, today, taken)
    if clock is None and day is None and part is None:
        return None
    found: list[_Found] = [f for f in (clock, day, part) if f is not None]
    start = min(f.start for f in found)
    end = max(f.end for f in found)

    part_name = part.part if part else None
    if clock is not None and part_name and clock.meridiem is None:
        clock = _Time(clock.start, clock.end, clock.hour, clock.minute, _meridiem_of(part_name))
    on = day.day if day else today
    if part and part.today and day is None:
        on = today
    at: time | None = None
    if clock is not None:
        on, at = _resolve_clock(clock, on, explicit_day=day is not None, now=now)
    span_start = positions[start]
    span_end = positions[end - 1] + 1
    while span_end < len(text) and unicodedata.combining(text[span_end]):
        span_end += 1
    return When(
        date=on,
        time=at,
        start=span_start,
        end=span_end,
        text=text[span_start:span_end],
        part_of_day=part_name if at is None else None,
    )


def _meridiem_of(part: str) -> str:
    return "am" if part == "morning" else "pm"


def _overlaps(start: int, end: int, taken: list[_Found]) -> bool:
    return any(f.start < end and start < f.end for f in taken)


def _find_time(folded: str) -> _Time | None:
    for m in _TIME.finditer(folded):
        hour_text, word = m["h"], m["hw"]
        marker = m["ampm"] or m["hrs"] or m["part"]
        if word and not m["prefix"]:
            continue  # "una", "dos" alone are just words
        if not (m["prefix"] or m["m"] or marker):
            continue  # a bare number is not a time
        if m["m"] and not (m["prefix"] or marker) and "." in m.group(0):
            continue  # "7.50" alone is an amount, not a time
        hour = _HOUR_WORDS[word] if word else int(hour_text)
        minute = int(m["m"]) if m["m"] else 0
        if m["frac"]:
            minute = 30 if m["frac"] == "media" else 15
        if hour > 23 or (hour > 12 and (m["ampm"] or "").startswith("a")):
            continue
        meridiem: str | None = None
        if m["ampm"]:
            meridiem = "am" if m["ampm"].startswith("a") else "pm"
        elif m["part"]:
            meridiem = _meridiem_of(_PARTS[m["part"]])
        elif m["hrs"] or hour == 0 or hour > 12:
            meridiem = "24h"
        return _Time(m.start(), m.end(), hour, minute, meridiem)
    noon = _NOON.search(folded)
    if noon:
        hour = 0 if noon["w"] in ("medianoche", "midnight") else 12
        return _Time(noon.start(), noon.end(), hour, 0, "24h")
    return None


def _find_part(folded: str, taken: list[_Found]) -> _Part | None:
    for m in _PART.finditer(folded):
        if _overlaps(m.start(), m.end(), taken):
            continue
        if m["tonight"]:
            return _Part(m.start(), m.end(), "night", today=True)
        if m["early"]:
            return _Part(m.start(), m.end(), "morning")
        this = m.group(0).startswith(("esta", "this"))
        return _Part(m.start(), m.end(), _PARTS[m["part"]], today=this)
    return None


def _find_day(folded: str, today: date, taken: list[_Found]) -> _Day | None:
    candidates: list[_Day] = []
    for m in _DAY_MONTH.finditer(folded):
        day = _calendar_day(today, int(m["d"]), _MONTHS[m["mon"]], m["y"])
        if day and not _overlaps(m.start(), m.end(), taken):
            candidates.append(_Day(m.start(), m.end(), day))
    for m in _MONTH_DAY.finditer(folded):
        day = _calendar_day(today, int(m["d"]), _MONTHS[m["mon"]], m["y"])
        if day and not _overlaps(m.start(), m.end(), taken):
            candidates.append(_Day(m.start(), m.end(), day))
    for m in _NUMERIC.finditer(folded):
        day = _calendar_day(today, int(m["d"]), int(m["mon"]), m["y"])
        if day and not _overlaps(m.start(), m.end(), taken):
            candidates.append(_Day(m.start(), m.end(), day))
    for m in _RELATIVE.finditer(folded):
        if _overlaps(m.start(), m.end(), taken):
            continue
        if m["after"]:
            candidates.append(_Day(m.start(), m.end(), today + timedelta(days=2)))
        elif m["tomorrow"]:
            candidates.append(_Day(m.start(), m.end(), today + timedelta(days=1)))
        else:
            candidates.append(_Day(m.start(), m.end(), today, explicit_today=True))
    for m in _WEEKDAY.finditer(folded):
        if _overlaps(m.start(), m.end(), taken):
            continue
        ahead = (_WEEKDAYS[m["wd"]] - today.weekday()) % 7
        mod = m["mod"] or ""
        if ahead == 0 and (m["next"] or "proximo" in mod or "siguiente" in mod or mod == "next"):
            ahead = 7
        candidates.append(_Day(m.start(), m.end(), today + timedelta(days=ahead)))
    for m in _WEEKEND.finditer(folded):
        if not _overlaps(m.start(), m.end(), taken):
            ahead = (5 - today.weekday()) % 7 if today.weekday() != 6 else 0
            candidates.append(_Day(m.start(), m.end(), today + timedelta(days=ahead)))
    if not candidates:
        for m in _DAY_OF_MONTH.finditer(folded):
            if _overlaps(m.start(), m.end(), taken):
                continue
            day = _next_day_of_month(today, int(m["d"]))
            if day:
                candidates.append(_Day(m.start(), m.end(), day))
                break
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.start, -c.end))


def _calendar_day(today: date, day: int, month: int, year_text: str | None) -> date | None:
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        return _safe_date(year, month, day)
    this_year = _safe_date(today.year, month, day)
    if this_year is None:
        return _safe_date(today.year + 1, month, day)
    if this_year < today:
        return _safe_date(today.year + 1, month, day)
    return this_year


def _next_day_of_month(today: date, day: int) -> date | None:
    year, month = today.year, today.month
    for _ in range(13):
        candidate = _safe_date(year, month, day)
        if candidate and candidate >= today:
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve_clock(
    clock: _Time, on: date, *, explicit_day: bool, now: datetime
) -> tuple[date, time]:
    """Pick the hour on `on` (am/pm when not said) and, for a bare time already gone,
    move to tomorrow."""
    minute = clock.minute
    if clock.meridiem == "24h":
        hours = [clock.hour % 24]
    elif clock.meridiem == "am":
        hours = [clock.hour % 12]
    elif clock.meridiem == "pm":
        hours = [clock.hour % 12 + 12]
    elif clock.hour % 12 < _EARLIEST_PLAUSIBLE_HOUR and clock.hour != 12:
        hours = [clock.hour % 12 + 12]  # "a las 3": 15:00 — a gym is closed at 3 a.m.
    else:
        hours = [clock.hour % 12, clock.hour % 12 + 12]
        if clock.hour == 12:
            hours = [12]
    local_now = now.replace(second=0, microsecond=0)
    for hour in hours:
        candidate = datetime.combine(on, time(hour, minute), tzinfo=now.tzinfo)
        if candidate >= local_now:
            return on, time(hour, minute)
    if not explicit_day:  # a bare time already past today: tomorrow's first option
        return on + timedelta(days=1), time(hours[0], minute)
    return on, time(hours[-1], minute)
