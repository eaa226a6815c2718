"""Date/time expressions resolved in the gym's zone (`resolve_when`)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dialogs.nlu.dates import When, resolve_when

MX = ZoneInfo("America/Mexico_City")
# Wednesday 10 September 2025, 10:00 in Mexico City.
NOW = datetime(2025, 9, 10, 10, 0, tzinfo=MX)


@pytest.mark.parametrize(
    ("text", "day", "at"),
    [
        ("mañana a las 7", date(2025, 9, 11), time(7, 0)),
        ("manana a las 7", date(2025, 9, 11), time(7, 0)),
        ("el jueves", date(2025, 9, 11), None),
        ("el miércoles", date(2025, 9, 10), None),
        ("el próximo miércoles", date(2025, 9, 17), None),
        ("hoy en la tarde", date(2025, 9, 10), None),
        ("el 16 de septiembre", date(2025, 9, 16), None),
        ("el 5 de enero", date(2026, 1, 5), None),  # already past this year
        ("16/09 a las 18:00", date(2025, 9, 16), time(18, 0)),
        ("a las 7", date(2025, 9, 10), time(19, 0)),  # 7 am is gone: the next one
        ("a las 7 de la noche", date(2025, 9, 10), time(19, 0)),
        ("a las 7 de la mañana", date(2025, 9, 11), time(7, 0)),  # gone today: tomorrow
        ("a las 3", date(2025, 9, 10), time(15, 0)),
        ("a las 7 y media", date(2025, 9, 10), time(19, 30)),
        ("pasado mañana a las siete", date(2025, 9, 12), time(7, 0)),
        ("el viernes a las 8:30 pm", date(2025, 9, 12), time(20, 30)),
        ("al mediodía", date(2025, 9, 10), time(12, 0)),
        ("tomorrow at 6pm", date(2025, 9, 11), time(18, 0)),
        ("next monday", date(2025, 9, 15), None),
        ("September 16th at 7am", date(2025, 9, 16), time(7, 0)),
        ("tonight", date(2025, 9, 10), None),
    ],
)
def test_expressions(text: str, day: date, at: time | None) -> None:
    when = resolve_when(text, NOW)
    assert when is not None
    assert (when.date, when.time) == (day, at)


def test_span_is_on_the_original_text() -> None:
    text = "Quiero SPINNING mañana a las 7 porfa 🙏"
    when = resolve_when(text, NOW)
    assert when == When(
        date=date(2025, 9, 11), time=time(7, 0), start=16, end=30, text="mañana a las 7"
    )
    assert text[when.start : when.end] == when.text


def test_part_of_day_without_an_hour() -> None:
    when = resolve_when("hoy en la tarde", NOW)
    assert when is not None and when.part_of_day == "afternoon" and when.time is None


def test_late_evening_bare_time_moves_to_tomorrow() -> None:
    late = datetime(2025, 9, 10, 21, 0, tzinfo=MX)
    when = resolve_when("a las 7", late)
    assert when is not None and (when.date, when.time) == (date(2025, 9, 11), time(7, 0))


@pytest.mark.parametrize(
    "text", ["", "cuánto debo", "pagué 7.50", "la mañana es fría", "quiero 3 clases", "🤷‍♀️"]
)
def test_no_expression(text: str) -> None:
    assert resolve_when(text, NOW) is None


def test_invalid_calendar_dates_are_ignored() -> None:
    when = resolve_when("el 31 de febrero", NOW)  # no such day: never an exception
    assert when is None or when.date.month != 2
    assert resolve_when("99/99", NOW) is None
