"""Classes in the chat: "qué clases hay hoy", "horario de spinning", booking in plain words
with a confirmation ("resérvame spinning mañana a las 7"), the waitlist when it is full,
and cancelling a booking ("cancela mi clase")."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.classes.models import ACTIVE_BOOKING_STATUSES, ClassBooking, ClassType
from backend.classes.schedule import SessionView, list_class_types, session_view, sessions_between
from backend.classes.service import (
    AlreadyBooked,
    ClassFull,
    MemberBooking,
    NoClassAccess,
    NoClassCredits,
    OverlappingBooking,
    Seats,
    SessionClosed,
    book,
    cancel_booking,
    cancel_deadline,
    check_access,
    class_rules,
    overlapping_session,
    upcoming_bookings,
)
from backend.errors import DomainError
from backend.gyms.models import Location
from dialogs import format as fmt
from dialogs.flows.answers import is_no, is_yes
from dialogs.nlu.dates import When, resolve_when
from dialogs.nlu.normalize import strip_accents
from dialogs.turn import END, PASS, Flow, Turn

MAX_LINES = 12
MAX_OPTIONS = 6
SCHEDULE_DAYS = 7
MATCH_RATIO = 0.8
# A time said for a class matches a session this close to it.
TIME_SLACK = timedelta(minutes=30)
# Class words members use that a gym may not offer ("¿hay pilates?" → "no tenemos").
KNOWN_CLASS_WORDS = frozenset(
    {
        "spinning", "spin", "yoga", "box", "boxeo", "zumba", "funcional", "crossfit",
        "pilates", "hiit", "trx", "barre", "cycling", "aerobics", "aerobicos", "stretching",
        "kickboxing", "bootcamp", "baile",
    }
)  # fmt: skip
# Other spellings of class names, to the word the catalog uses.
ALIASES = {"spin": "spinning", "boxeo": "box", "cycling": "spinning", "bici": "spinning"}
_CANCEL = re.compile(
    r"\b(cancela\w*|cancel\w*|ya no (puedo|voy)|no (puedo|voy a) ir|libera\w*|quita\w*|"
    r"borra\w*|can'?t (make|go)|drop)\b"
)
_MINE = re.compile(
    r"\b(mis (clases|reservas?|reservaciones)|mi reserva|ya quedo|my (classes|bookings?)|"
    r"did my booking)\b"
)
_CLASS_WORDS = re.compile(r"\b(clases?|reservas?|reservacion\w*|class(es)?|booking|lugar)\b")
_NUMBER = re.compile(r"^\s*(?:la\s+|el\s+|opcion\s+|#)?(\d{1,2})\s*[.)]?\s*$")
_PARTS = {"morning": (5, 12), "afternoon": (12, 18), "night": (18, 24)}


def _fold(text: str) -> str:
    return strip_accents(text.lower())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9ñ]+", _fold(text))


# --- understanding the text ----------------------------------------------------------------


def match_class(text: str, types: Sequence[ClassType], hint: str | None = None) -> ClassType | None:
    """The class type named in `text`, tolerant of typos ("spining", "yogha")."""
    words = _words(text) + (_words(hint) if hint else [])
    words = [ALIASES.get(w, w) for w in words]
    best: tuple[float, ClassType] | None = None
    for class_type in types:
        name = _words(class_type.name)
        if not name:
            continue
        size = len(name)
        target = " ".join(name)
        for i in range(len(words) - size + 1):
            candidate = " ".join(words[i : i + size])
            if len(candidate) < 3 and candidate != target:
                continue
            ratio = difflib.SequenceMatcher(None, candidate, target).ratio()
            if ratio >= MATCH_RATIO and (best is None or ratio > best[0]):
                best = (ratio, class_type)
    return best[1] if best else None


def unknown_class_word(text: str, types: Sequence[ClassType]) -> str | None:
    """A class word the member used that this gym does not offer."""
    offered = {ALIASES.get(w, w) for t in types for w in _words(t.name)}
    for word in _words(text):
        if word in KNOWN_CLASS_WORDS and ALIASES.get(word, word) not in offered:
            return word
    return None


def match_location(turn: Turn, text: str) -> Location | None:
    named = turn.nlu.entity("location")
    words = set(_words(text)) | ({_fold(named)} if named else set())
    for loc in turn.locations:
        own = set(_words(loc.name)) - {"gogym", "gym", "sucursal"}
        if loc.slug in words or own & words:
            return loc
    return None


def _local_now(turn: Turn) -> datetime:
    return turn.now.astimezone(ZoneInfo(turn.gym.timezone))


def _when(turn: Turn, text: str) -> When | None:
    return resolve_when(text, _local_now(turn))


# --- saying things -----------------------------------------------------------------------------

_WEEKDAYS = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def day_label(turn: Turn, day: date) -> str:
    """'hoy', 'mañana', 'el jueves', 'el jueves 4 de diciembre' (and in English)."""
    today = _local_now(turn).date()
    lang = "en" if turn.lang == "en" else "es"
    if day == today:
        return turn.text("class_today")
    if day == today + timedelta(days=1):
        return turn.text("class_tomorrow")
    weekday = _WEEKDAYS[lang][day.weekday()]
    if day - today < timedelta(days=7):
        return turn.text("class_on_weekday", weekday=weekday)
    return turn.text("class_on_date", weekday=weekday, date=fmt.day(day, lang))


def _local(turn: Turn, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(turn.gym.timezone))


def describe(turn: Turn, view: SessionView) -> str:
    """'Spinning mañana 7:00 a.m. en GoGym Centro'."""
    local = _local(turn, view.class_session.starts_at)
    return turn.text(
        "class_describe",
        cls=view.class_type.name,
        day=day_label(turn, local.date()),
        time=fmt.clock(local, turn.lang),
        location=view.location.name,
    )


def session_line(turn: Turn, view: SessionView, number: int | None = None) -> str:
    local = _local(turn, view.class_session.starts_at)
    who = view.class_session.instructor_name
    seats = turn.text("class_seats", n=view.free) if view.free > 0 else turn.text("class_full_tag")
    return turn.text(
        "class_line",
        bullet=f"{number}." if number is not None else "•",
        time=fmt.clock(local, turn.lang),
        cls=view.class_type.name,
        location=view.location.name,
        instructor=turn.text("class_with", name=who) if who else "",
        seats=seats,
    )


def timetable(turn: Turn, views: Sequence[SessionView], numbered: bool = False) -> str:
    """Sessions grouped under a heading per day."""
    lines: list[str] = []
    current: date | None = None
    for i, view in enumerate(views[:MAX_LINES], start=1):
        day = _local(turn, view.class_session.starts_at).date()
        if day != current:
            label = day_label(turn, day)
            lines.append(f"*{label[:1].upper()}{label[1:]}*")
            current = day
        lines.append(session_line(turn, view, i if numbered else None))
    return "\n".join(lines)


def catalog_names(turn: Turn, types: Sequence[ClassType]) -> str:
    return fmt.join_list([t.name for t in types], turn.text("and"))


# --- finding sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """What the member asked for, read from their words."""

    class_type: ClassType | None
    when: When | None
    location: Location | None
    unknown: str | None


async def read_ask(turn: Turn, text: str) -> tuple[Ask, list[ClassType]]:
    types = await list_class_types(turn.session, turn.gym.id, active_only=True)
    class_type = match_class(text, types, turn.nlu.entity("class_name"))
    unknown = None if class_type else unknown_class_word(text, types)
    return Ask(class_type, _when(turn, text), match_location(turn, text), unknown), types


async def find_sessions(turn: Turn, ask: Ask, days: int = SCHEDULE_DAYS) -> list[SessionView]:
    """Upcoming sessions matching what was asked: on the day said (else the next `days`),
    of the class, at the place, in the part of the day or near the hour said."""
    now = turn.now
    tz = ZoneInfo(turn.gym.timezone)
    if ask.when is not None:
        start = max(datetime.combine(ask.when.date, time(0), tzinfo=tz), now)
        end = datetime.combine(ask.when.date + timedelta(days=1), time(0), tzinfo=tz)
    else:
        start, end = now, now + timedelta(days=days)
    if end <= start:
        return []
    views = await sessions_between(
        turn.session,
        turn.gym.id,
        start,
        end,
        location_id=ask.location.id if ask.location else None,
        class_type_ids=[ask.class_type.id] if ask.class_type else None,
    )
    if ask.when is not None and ask.when.part_of_day in _PARTS:
        low, high = _PARTS[ask.when.part_of_day]
        views = [v for v in views if low <= _local(turn, v.class_session.starts_at).hour < high]
    if ask.when is not None and ask.when.time is not None:
        for wanted in _wanted_times(ask.when, tz):
            near = [v for v in views if abs(v.class_session.starts_at - wanted) <= TIME_SLACK]
            if near:
                near.sort(key=lambda v: abs(v.class_session.starts_at - wanted))
                return near
        return []
    return views


_MORNING_SAID = re.compile(r"(a\.?\s?m|de la manana|en la manana|morning)")


def _wanted_times(when: When, tz: ZoneInfo) -> list[datetime]:
    """The hour said, and 12 hours later when no a.m. was said: "a las 6" for a class
    that is at 6 p.m. means 6 p.m."""
    assert when.time is not None
    wanted = datetime.combine(when.date, when.time, tzinfo=tz)
    if when.time.hour < 12 and not _MORNING_SAID.search(_fold(when.text)):
        return [wanted, wanted + timedelta(hours=12)]
    return [wanted]


def _prefer_home(turn: Turn, views: list[SessionView]) -> list[SessionView]:
    """At the same hour in two places, the member's home location first."""
    home = turn.member.home_location_id
    return sorted(
        views, key=lambda v: (v.class_session.starts_at, v.location.id != home, v.location.id)
    )


# --- the timetable question ---------------------------------------------------------------------


async def schedule_start(turn: Turn) -> str:
    text = turn.message.text
    if _MINE.search(_fold(text)):
        return await _my_bookings(turn)
    ask, types = await read_ask(turn, text)
    if not types:
        turn.say("class_none_offered")
        return END
    if ask.unknown and ask.class_type is None:
        turn.say("class_not_offered", cls=ask.unknown, classes=catalog_names(turn, types))
        return END
    views = await find_sessions(turn, ask)
    header = ""
    if not views and ask.when is None and ask.class_type is None:
        return await _nothing_soon(turn)
    if not views and ask.when is not None and ask.when.date == _local_now(turn).date():
        # Nothing more today: show tomorrow's, which is what the member can still take.
        tomorrow = Ask(ask.class_type, None, ask.location, None)
        views = [
            v
            for v in await find_sessions(turn, tomorrow, days=2)
            if _local(turn, v.class_session.starts_at).date() > _local_now(turn).date()
        ]
        header = turn.text("class_none_left_today") + "\n"
    if not views:
        what = ask.class_type.name if ask.class_type else turn.text("class_generic")
        turn.say("class_none_found", cls=what)
        if ask.class_type is not None:
            later = await find_sessions(turn, Ask(ask.class_type, None, ask.location, None), 14)
            if later:
                turn.say("class_next_ones", timetable=timetable(turn, later[:4]))
        return END
    if ask.when is None and ask.class_type is None:
        today = _local_now(turn).date()
        views = [v for v in views if _local(turn, v.class_session.starts_at).date() == today] or [
            v
            for v in views
            if _local(turn, v.class_session.starts_at).date() == _first_day(turn, views)
        ]
    turn.say("class_schedule", header=header, timetable=timetable(turn, views))
    turn.say("class_book_hint")
    return END


def _first_day(turn: Turn, views: Sequence[SessionView]) -> date:
    return _local(turn, views[0].class_session.starts_at).date()


async def _nothing_soon(turn: Turn) -> str:
    turn.say("class_none_found", cls=turn.text("class_generic"))
    return END


async def _my_bookings(turn: Turn) -> str:
    mine = await upcoming_bookings(turn.session, turn.gym.id, turn.member.id, turn.now)
    if not mine:
        turn.say("class_no_bookings")
        return END
    lines = [_booking_line(turn, b) for b in mine[:MAX_LINES]]
    turn.say("class_my_bookings", bookings="\n".join(lines))
    return END


def _booking_line(turn: Turn, b: MemberBooking, number: int | None = None) -> str:
    view = SessionView(b.class_session, b.class_type, b.location, Seats())
    tag = turn.text("class_waitlisted_tag") if b.booking.status == "waitlisted" else ""
    bullet = f"{number}." if number is not None else "•"
    return f"{bullet} {describe(turn, view)}{tag}"


# --- booking ---------------------------------------------------------------------------------


async def book_start(turn: Turn) -> str:
    text = turn.message.text
    folded = _fold(text)
    if _CANCEL.search(folded):
        return await cancel_start(turn)
    if _MINE.search(folded):
        return await _my_bookings(turn)
    return await _book_from(turn, text)


async def _book_from(turn: Turn, text: str) -> str:
    ask, types = await read_ask(turn, text)
    if not types:
        turn.say("class_none_offered")
        return END
    if ask.class_type is None:
        if ask.unknown:
            turn.say("class_not_offered", cls=ask.unknown, classes=catalog_names(turn, types))
            return END
        if ask.when is not None:
            views = await find_sessions(turn, ask)
            if views:
                return _offer_options(turn, views, "class_pick_day")
        turn.slots["when_text"] = ask.when.text if ask.when else ""
        turn.say("class_which", classes=catalog_names(turn, types))
        return "ask_class"
    views = _prefer_home(turn, await find_sessions(turn, ask))
    if not views:
        if ask.when is not None and ask.when.time is not None:
            same_day = await find_sessions(
                turn, Ask(ask.class_type, _day_only(ask.when), ask.location, None)
            )
            if same_day:
                turn.say("class_not_at_that_time", cls=ask.class_type.name)
                return _offer_options(turn, same_day, "class_pick")
        later = await find_sessions(turn, Ask(ask.class_type, None, ask.location, None), 14)
        turn.say("class_none_found", cls=ask.class_type.name)
        if later:
            return _offer_options(turn, later, "class_pick")
        return END
    exact = ask.when is not None and ask.when.time is not None
    if len(views) == 1 or (
        exact and views[0].class_session.starts_at != views[1].class_session.starts_at
    ):
        return await _propose(turn, views[0])
    return _offer_options(turn, views, "class_pick")


def _day_only(when: When) -> When:
    return When(when.date, None, when.start, when.end, when.text)


def _offer_options(turn: Turn, views: Sequence[SessionView], key: str) -> str:
    options = list(views[:MAX_OPTIONS])
    turn.slots["options"] = [v.class_session.id for v in options]
    turn.say(key, timetable=timetable(turn, options, numbered=True))
    return "pick"


async def ask_class(turn: Turn) -> str:
    text = turn.message.text
    types = await list_class_types(turn.session, turn.gym.id, active_only=True)
    if match_class(text, types, turn.nlu.entity("class_name")) is None:
        return await _retry(turn, "class_which", classes=catalog_names(turn, types))
    said = turn.slots.pop("when_text", "")
    return await _book_from(turn, f"{text} {said}".strip())


# Offered a list, "gracias" or "bye" means "no, thanks".
_DECLINING = ("deny", "thanks", "goodbye")


async def pick(turn: Turn) -> str:
    options: list[int] = turn.slots.get("options", [])
    # One option offered: "va, gracias" takes it, though it reads as thanks.
    chosen = options[0] if len(options) == 1 and is_yes(turn) else None
    if chosen is None and (turn.intent in _DECLINING or is_no(turn)):
        turn.say("class_not_booked")
        return END
    if chosen is None:
        chosen = await _chosen(turn, options)
    if chosen is None:
        if turn.intent in ("book_class", "class_schedule") and len(_words(turn.message.text)) > 2:
            return PASS  # a new request: start over with it
        return await _retry(turn, "class_pick_again", n=len(options))
    turn.slots.pop("options", None)
    turn.slots.pop("tries", None)
    view = await session_view(turn.session, turn.gym.id, chosen)
    return await _propose(turn, view)


async def _chosen(turn: Turn, options: list[int]) -> int | None:
    """The option the member picked: its number, or its hour ("la de las 7")."""
    text = _fold(turn.message.text)
    number = _NUMBER.match(text)
    if number:
        index = int(number.group(1)) - 1
        return options[index] if 0 <= index < len(options) else None
    when = _when(turn, turn.message.text)
    types = await list_class_types(turn.session, turn.gym.id)
    named = match_class(turn.message.text, types)
    for session_id in options:
        view = await session_view(turn.session, turn.gym.id, session_id)
        local = _local(turn, view.class_session.starts_at)
        if named is not None and named.id != view.class_type.id:
            continue
        if when is not None and when.time is not None:
            if (local.hour, local.minute) == (when.time.hour, when.time.minute):
                return session_id
        elif named is not None:
            return session_id
    return None


async def _propose(turn: Turn, view: SessionView) -> str:
    """Check the member may take it, then ask to confirm (or offer the waitlist)."""
    cs = view.class_session
    problem = await _precheck(turn, view)
    if problem:
        return END
    turn.slots["session_id"] = cs.id
    if view.free <= 0:
        turn.say("class_full_offer_waitlist", what=describe(turn, view), n=view.seats.waitlisted)
        return "confirm_waitlist"
    turn.say("class_confirm", what=describe(turn, view))
    return "confirm"


async def _precheck(turn: Turn, view: SessionView) -> bool:
    """Say why the member can't book this session, if so (True when they can't)."""
    cs, member = view.class_session, turn.member
    existing = await turn.session.scalar(
        select(ClassBooking).where(
            ClassBooking.session_id == cs.id,
            ClassBooking.member_id == member.id,
            ClassBooking.status.in_(ACTIVE_BOOKING_STATUSES),
        )
    )
    if existing is not None:
        key = "class_already_waitlisted" if existing.status == "waitlisted" else "class_already"
        turn.say(key, what=describe(turn, view))
        return True
    try:
        holding = await check_access(turn.session, member, cs, view.class_type, turn.now)
    except NoClassAccess as exc:
        _explain_access(turn, exc, view)
        return True
    left = holding.subscription.class_credits_remaining
    if left is not None and left <= 0:
        turn.say("class_no_credits")
        return True
    other = await overlapping_session(turn.session, member, cs)
    if other is not None:
        turn.say(
            "class_overlap",
            what=describe(turn, await session_view(turn.session, turn.gym.id, other.id)),
        )
        return True
    return False


def _explain_access(turn: Turn, exc: NoClassAccess, view: SessionView) -> None:
    if exc.reason == "plan_not_eligible":
        turn.say("class_plan_not_eligible", plan=exc.plan_name or "", cls=view.class_type.name)
    elif exc.reason == "location_not_covered":
        turn.say(
            "class_location_not_covered", plan=exc.plan_name or "", location=view.location.name
        )
    else:
        turn.say("class_no_membership")


async def confirm(turn: Turn) -> str:
    return await _confirm(turn, waitlist=False)


async def confirm_waitlist(turn: Turn) -> str:
    return await _confirm(turn, waitlist=True)


async def _confirm(turn: Turn, *, waitlist: bool) -> str:
    if turn.intent == "cancel_membership" or is_no(turn):
        turn.say("class_not_booked")
        return END
    if not is_yes(turn):
        if turn.intent in ("book_class", "class_schedule") and len(_words(turn.message.text)) > 1:
            return PASS
        return await _retry(turn, "class_confirm_again")
    session_id = int(turn.slots["session_id"])
    try:
        outcome = await book(
            turn.session,
            gym=turn.gym,
            member=turn.member,
            session_id=session_id,
            now=turn.now,
            waitlist=waitlist,
        )
    except ClassFull as exc:
        view = await session_view(turn.session, turn.gym.id, session_id)
        turn.say("class_just_filled", what=describe(turn, view), n=exc.waitlisted)
        return "confirm_waitlist"
    except (SessionClosed, AlreadyBooked, OverlappingBooking, NoClassAccess, NoClassCredits) as exc:
        view = await session_view(turn.session, turn.gym.id, session_id)
        if not await _precheck(turn, view):
            turn.say("class_cannot_book", reason=_reason(turn, exc))
        return END
    view = await session_view(turn.session, turn.gym.id, session_id)
    if outcome.booking.status == "waitlisted":
        turn.say("class_waitlisted", what=describe(turn, view), n=outcome.waitlist_place)
        return END
    rules = await class_rules(turn.session, turn.gym.id)
    deadline = _local(turn, cancel_deadline(outcome.class_session, rules))
    credits = (
        turn.text("class_credits_left", n=outcome.credits_left)
        if outcome.credits_left is not None
        else ""
    )
    who = view.class_session.instructor_name
    turn.say(
        "class_booked",
        what=describe(turn, view),
        instructor=turn.text("class_with", name=who) if who else "",
        credits=credits,
        hours=_hours(rules.reminder_before),
        deadline=f"{day_label(turn, deadline.date())} {fmt.clock(deadline, turn.lang)}",
    )
    return END


def _reason(turn: Turn, exc: DomainError) -> str:
    return exc.message_en if turn.lang == "en" else exc.message_es


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g}"


# --- cancelling a booking ------------------------------------------------------------------


async def cancel_start(turn: Turn) -> str:
    mine = await upcoming_bookings(turn.session, turn.gym.id, turn.member.id, turn.now)
    if not mine:
        turn.say("class_no_bookings")
        return END
    ask, _ = await read_ask(turn, turn.message.text)
    chosen = [
        b
        for b in mine
        if (ask.class_type is None or b.class_type.id == ask.class_type.id)
        and (ask.when is None or _local(turn, b.class_session.starts_at).date() == ask.when.date)
    ] or mine
    if len(chosen) == 1:
        return await _propose_cancel(turn, chosen[0])
    options = chosen[:MAX_OPTIONS]
    turn.slots["cancel_options"] = [b.booking.id for b in options]
    lines = [_booking_line(turn, b, i) for i, b in enumerate(options, start=1)]
    turn.say("class_cancel_which", bookings="\n".join(lines))
    return "class_pick_cancel"


async def _propose_cancel(turn: Turn, b: MemberBooking) -> str:
    turn.slots["booking_id"] = b.booking.id
    view = SessionView(b.class_session, b.class_type, b.location, Seats())
    rules = await class_rules(turn.session, turn.gym.id)
    late = b.booking.status == "booked" and turn.now > cancel_deadline(b.class_session, rules)
    key = "class_cancel_confirm_late" if late else "class_cancel_confirm"
    turn.say(key, what=describe(turn, view), hours=_hours(rules.cancel_cutoff))
    return "class_confirm_cancel"


async def pick_cancel(turn: Turn) -> str:
    options: list[int] = turn.slots.get("cancel_options", [])
    if turn.intent in _DECLINING or is_no(turn):
        turn.say("class_cancel_kept")
        return END
    number = _NUMBER.match(_fold(turn.message.text))
    index = int(number.group(1)) - 1 if number else -1
    if not 0 <= index < len(options):
        return await _retry(turn, "class_pick_again", n=len(options))
    mine = await upcoming_bookings(turn.session, turn.gym.id, turn.member.id, turn.now)
    chosen = next((b for b in mine if b.booking.id == options[index]), None)
    if chosen is None:
        turn.say("class_no_bookings")
        return END
    turn.slots.pop("cancel_options", None)
    turn.slots.pop("tries", None)
    return await _propose_cancel(turn, chosen)


async def confirm_cancel(turn: Turn) -> str:
    if is_no(turn):
        turn.say("class_cancel_kept")
        return END
    if turn.intent != "cancel_membership" and not is_yes(turn):
        return await _retry(turn, "class_confirm_again")
    try:
        outcome = await cancel_booking(
            turn.session,
            gym=turn.gym,
            member=turn.member,
            booking_id=int(turn.slots["booking_id"]),
            now=turn.now,
        )
    except DomainError as exc:
        turn.say("class_cannot_cancel", reason=_reason(turn, exc))
        return END
    view = SessionView(
        outcome.class_session,
        outcome.class_type,
        await _place(turn, outcome.class_session.location_id),
        Seats(),
    )
    if outcome.was_waitlisted:
        turn.say("class_left_waitlist", what=describe(turn, view))
    elif outcome.credit_returned:
        turn.say("class_canceled_credit_back", what=describe(turn, view))
    elif outcome.late:
        turn.say("class_canceled_late", what=describe(turn, view))
    else:
        turn.say("class_canceled", what=describe(turn, view))
    return END


async def _place(turn: Turn, location_id: int) -> Location:
    found = next((loc for loc in turn.locations if loc.id == location_id), None)
    if found is not None:
        return found
    loc = await turn.session.get(Location, location_id)
    assert loc is not None
    return loc


# --- small helpers -------------------------------------------------------------------------


async def _retry(turn: Turn, key: str, **values: object) -> str:
    """Ask once more; the second miss ends the flow with a way out. A different request
    ("mi código" while picking a class) leaves the flow and is answered."""
    if turn.changed_subject("book_class", "class_schedule", "cancel_membership"):
        return PASS
    tries = int(turn.slots.get("tries", 0)) + 1
    if tries > 1:
        turn.say("class_give_up")
        return END
    turn.slots["tries"] = tries
    turn.say(key, **values)
    return turn.conversation.state or END


def mentions_class(text: str) -> bool:
    """Does a 'cancel …' message speak about a class rather than the membership?"""
    folded = _fold(text)
    return bool(_CLASS_WORDS.search(folded)) or any(w in KNOWN_CLASS_WORDS for w in _words(text))


CANCEL_STATES = {
    "class_pick_cancel": pick_cancel,
    "class_confirm_cancel": confirm_cancel,
}


def with_class_cancel(inner: Flow) -> Flow:
    """Route 'cancela mi clase' (which the NLU reads as cancelling the membership) to the
    class cancellation; anything else goes to `inner`, whose states are kept."""

    async def start(turn: Turn) -> str:
        if mentions_class(turn.message.text):
            return await cancel_start(turn)
        return await inner.start(turn)

    return Flow(f"{inner.name}+class", start, {**inner.states, **CANCEL_STATES}, inner.timeout)


CLASS_SCHEDULE = Flow("class_schedule", schedule_start)
BOOK_CLASS = Flow(
    "book_class",
    book_start,
    {
        "ask_class": ask_class,
        "pick": pick,
        "confirm": confirm,
        "confirm_waitlist": confirm_waitlist,
        **CANCEL_STATES,
    },
    timeout=timedelta(minutes=15),
)
