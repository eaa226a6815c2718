"""Gym information in the chat (hours per location with the gym's holiday exceptions,
address with a map link, phone, amenities) and the member's progress."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backend.checkins.service import compute_stats, recent_visits
from backend.classes.models import ClassBooking, ClassSession
from backend.gyms.models import Location
from backend.selfservice.models import GymHoliday
from backend.selfservice.service import (
    amenities_at,
    hours_on,
    is_open,
)
from dialogs import format as fmt
from dialogs.flows.answers import fold
from dialogs.nlu.catalog import find_catalog, match_catalog
from dialogs.nlu.dates import resolve_when
from dialogs.turn import END, Flow, Turn

HOLIDAY_LOOKAHEAD = timedelta(days=14)
_HOURS = re.compile(
    r"\b(horario|horarios|hora|horas|abre\w*|abren|cierra\w*|cierran|abierto|open\w*|clos\w*|"
    r"hours?|festivo|feriado|puente)\b"
)
_ADDRESS = re.compile(
    r"\b(direccion|donde|ubica\w*|mapa|llego|como llegar|address|where|location|map)\b"
)
_PHONE = re.compile(r"\b(telefono|tel|numero|llamar|marcar|phone|call)\b")
_AMENITIES = re.compile(r"\b(amenidades|servicios|instalaciones|amenities|facilities)\b")
# Things members ask about that a gym may or may not have ("¿tienen alberca?").
AMENITY_WORDS = {
    "regadera": "regaderas", "regaderas": "regaderas", "shower": "regaderas",
    "showers": "regaderas", "locker": "lockers", "lockers": "lockers", "casillero": "lockers",
    "casilleros": "lockers", "estacionamiento": "estacionamiento", "parking": "estacionamiento",
    "alberca": "alberca", "piscina": "alberca", "pool": "alberca", "vapor": "vapor",
    "sauna": "sauna", "wifi": "wifi", "toallas": "toallas", "towels": "toallas",
    "cafeteria": "cafetería", "nutriologo": "nutriólogo", "guarderia": "guardería",
    "ludoteca": "guardería", "jacuzzi": "jacuzzi", "vestidores": "vestidores",
}  # fmt: skip


def _local(turn: Turn) -> datetime:
    return turn.now.astimezone(ZoneInfo(turn.gym.timezone))


def named_locations(turn: Turn, text: str) -> list[Location]:
    """Locations the member named (typo-tolerant), in the order said."""
    by_name = {loc.name: loc for loc in turn.locations}
    by_slug = {loc.slug: loc for loc in turn.locations}
    found = [by_name[m.name] for m in find_catalog(text, list(by_name))]
    for m in find_catalog(text, list(by_slug)):
        if by_slug[m.name] not in found:
            found.append(by_slug[m.name])
    entity = turn.nlu.entity("location")
    if not found and entity:
        hit = match_catalog(entity, list(by_name))
        if hit:
            found.append(by_name[hit.name])
    return found


def _which(turn: Turn, text: str) -> list[Location]:
    named = named_locations(turn, text)
    if named:
        return named
    home = next((loc for loc in turn.locations if loc.id == turn.member.home_location_id), None)
    return [home] if home else list(turn.locations)


def _clock(turn: Turn, value: time) -> str:
    return fmt.clock(datetime.combine(date(2000, 1, 1), value), turn.lang)


def _short(value: time) -> str:
    return f"{value.hour}:{value.minute:02d}"


def _day_hours(turn: Turn, loc: Location, day: date, holidays: Sequence[GymHoliday]) -> str:
    hours = hours_on(loc, day, holidays)
    if hours.closed:
        return turn.text("info_closed")
    assert hours.opens is not None and hours.closes is not None
    return turn.text(
        "info_hours_span", opens=_clock(turn, hours.opens), closes=_clock(turn, hours.closes)
    )


def _week(turn: Turn, loc: Location) -> str:
    """'lun a vie 6:00–22:00 · sáb 7:00–15:00 · dom cerrado' (consecutive equal days grouped)."""
    keys = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    spans = [tuple((loc.hours or {}).get(k) or ()) for k in keys]
    groups: list[tuple[int, int]] = []
    for i in range(7):
        if groups and spans[groups[-1][0]] == spans[i]:
            groups[-1] = (groups[-1][0], i)
        else:
            groups.append((i, i))
    parts = []
    for first, last in groups:
        label = turn.text(f"weekday_short_{first}")
        if last != first:
            label = turn.text("days_range", first=label, last=turn.text(f"weekday_short_{last}"))
        span = spans[first]
        if span:
            parts.append(turn.text("info_week_span", days=label, opens=span[0], closes=span[1]))
        else:
            parts.append(turn.text("info_week_closed", days=label))
    return " · ".join(parts)


def _map(loc: Location) -> str:
    return f"https://maps.google.com/?q={loc.latitude},{loc.longitude}"


def _holiday_note(turn: Turn, name: str | None) -> str:
    return turn.text("info_holiday_suffix", holiday=name) if name else ""


async def gym_info(turn: Turn) -> str:
    text = turn.message.text
    folded = fold(text)
    locations = _which(turn, text)
    today = _local(turn).date()
    when = resolve_when(text, _local(turn))
    asked_day = when.date if when is not None else None
    end = max(today + HOLIDAY_LOOKAHEAD, asked_day or today)
    holidays = await turn.holidays(today, end)
    settings = await turn.gym_settings()

    asked_amenity = next(
        (AMENITY_WORDS[w] for w in re.findall(r"[a-zñ]+", folded) if w in AMENITY_WORDS), None
    )
    if asked_amenity is not None:
        for loc in locations:
            have = amenities_at(settings, loc.id)
            hit = match_catalog(asked_amenity, have)
            if hit:
                turn.say("info_has_amenity", name=loc.name, amenity=hit.name.lower())
            elif have:
                turn.say(
                    "info_lacks_amenity",
                    name=loc.name,
                    amenity=asked_amenity,
                    amenities=", ".join(have),
                )
            else:
                turn.say("info_lacks_amenity_bare", name=loc.name, amenity=asked_amenity)
        return END
    if (asked_day is not None and asked_day != today) or (
        asked_day == today and _HOURS.search(folded) and when is not None
    ):
        assert asked_day is not None
        for loc in locations:
            hours = hours_on(loc, asked_day, holidays)
            day = _day_label(turn, asked_day)
            if hours.closed:
                turn.say(
                    "info_on_day_closed",
                    name=loc.name,
                    day=day,
                    holiday=_holiday_note(turn, hours.holiday),
                )
            else:
                turn.say(
                    "info_on_day",
                    name=loc.name,
                    day=day,
                    holiday=_holiday_note(turn, hours.holiday),
                    hours=_day_hours(turn, loc, asked_day, holidays),
                )
        return END
    if _PHONE.search(folded) and not _HOURS.search(folded):
        phone = turn.gym.phone
        turn.say("info_phone", phone=phone) if phone else turn.say("info_no_phone")
        return END
    if _ADDRESS.search(folded) and not _HOURS.search(folded):
        for loc in locations:
            turn.say("info_address", name=loc.name, address=loc.address, map=_map(loc))
        return END
    if _AMENITIES.search(folded) and not _HOURS.search(folded):
        for loc in locations:
            have = amenities_at(settings, loc.id)
            if have:
                turn.say("info_amenities", name=loc.name, amenities=", ".join(have))
            else:
                turn.say("info_no_amenities", name=loc.name)
        return END
    cards = [_card(turn, loc, today, holidays, amenities_at(settings, loc.id)) for loc in locations]
    if turn.gym.phone:
        cards[-1] += turn.text("info_phone_line", phone=turn.gym.phone)
    turn.say("gym_info", gym=turn.gym.name, locations="\n\n".join(cards))
    if len(locations) > 1:
        turn.say("info_footer")
    return END


def _card(
    turn: Turn,
    loc: Location,
    today: date,
    holidays: Sequence[GymHoliday],
    amenities: list[str],
) -> str:
    upcoming = sorted(
        {h.day for h in holidays if h.location_id in (None, loc.id) and h.day > today}
    )
    notes = ""
    for day in upcoming[:3]:
        hours = hours_on(loc, day, holidays)
        notes += turn.text(
            "info_holiday_line",
            day=fmt.day(day, turn.lang),
            holiday=_holiday_note(turn, hours.holiday),
            hours=_day_hours(turn, loc, day, holidays),
        )
    today_hours = _day_hours(turn, loc, today, holidays)
    holiday_today = hours_on(loc, today, holidays).holiday
    return turn.text(
        "info_card",
        name=loc.name,
        address=loc.address,
        map=_map(loc),
        today=today_hours + _holiday_note(turn, holiday_today),
        week=_week(turn, loc),
        holidays=notes,
        amenities=turn.text("info_amenities_line", amenities=", ".join(amenities))
        if amenities
        else "",
    )


_WEEKDAYS = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def _day_label(turn: Turn, day: date) -> str:
    lang = "en" if turn.lang == "en" else "es"
    return f"{_WEEKDAYS[lang][day.weekday()]} {fmt.day(day, lang)}"


def open_now(loc: Location, now_local: datetime, holidays: Sequence[GymHoliday]) -> bool:
    return is_open(loc, now_local, holidays)


# --- progress ---------------------------------------------------------------------------------


async def my_progress(turn: Turn) -> str:
    tz = ZoneInfo(turn.gym.timezone)
    visits = await recent_visits(turn.session, turn.gym.id, turn.member.id, turn.now)
    if not visits:
        turn.say("progress_none")
        return END
    stats = compute_stats([t for t, _ in visits], tz, turn.now)
    local = _local(turn)
    month_start = datetime.combine(local.date().replace(day=1), time(0), tz)
    attended = (
        select(func.count())
        .select_from(ClassBooking)
        .join(ClassSession, ClassSession.id == ClassBooking.session_id)
        .where(
            ClassBooking.gym_id == turn.gym.id,
            ClassBooking.member_id == turn.member.id,
            ClassBooking.status == "attended",
        )
    )
    total = await turn.session.scalar(attended) or 0
    month = await turn.session.scalar(attended.where(ClassSession.starts_at >= month_start)) or 0
    if stats.week_streak > 1:
        streak = turn.text("progress_streak_weeks", n=stats.week_streak)
    elif stats.week_streak == 1:
        streak = turn.text("progress_streak_one")
    else:
        streak = turn.text("progress_streak_none")
    last_at, last_loc = visits[0]
    where = next((loc.name for loc in turn.locations if loc.id == last_loc), "")
    last_local = last_at.astimezone(tz)
    when = f"{fmt.day(last_local.date(), turn.lang)}, {fmt.clock(last_local, turn.lang)}"
    turn.say(
        "progress",
        visits=stats.visits_this_month,
        streak=streak,
        classes_month=month,
        classes_total=total,
        last=turn.text("progress_last_visit", when=when, location=where),
    )
    return END


GYM_INFO = Flow("gym_info", gym_info)
PROGRESS = Flow("my_progress", my_progress)
