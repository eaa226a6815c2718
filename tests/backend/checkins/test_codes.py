"""Daily check-in codes and the wa.me link behind the front desk's QR."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

from backend.checkins.codes import checkin_text, daily_code, whatsapp_link

SECRET = "test-secret"
DAY = date(2026, 3, 14)


def test_daily_code_is_six_digits() -> None:
    for location_id in range(1, 30):
        for offset in range(0, 60, 7):
            code = daily_code(SECRET, location_id, DAY + timedelta(days=offset))
            assert re.fullmatch(r"\d{6}", code), code


def test_small_codes_keep_their_leading_zeros() -> None:
    codes = [daily_code(SECRET, 1, DAY + timedelta(days=i)) for i in range(400)]
    # About one code in ten is below 100000; every one must still be six characters.
    with_zero = [c for c in codes if c.startswith("0")]
    assert with_zero
    assert all(len(c) == 6 for c in with_zero)


def test_daily_code_is_deterministic() -> None:
    assert daily_code(SECRET, 7, DAY) == daily_code(SECRET, 7, date(2026, 3, 14))


def test_daily_code_differs_by_location_day_and_secret() -> None:
    base = daily_code(SECRET, 7, DAY)
    assert daily_code(SECRET, 8, DAY) != base
    assert daily_code(SECRET, 7, DAY + timedelta(days=1)) != base
    assert daily_code("another-secret", 7, DAY) != base
    # Across many days and locations the codes don't collapse onto a few values.
    codes = {
        daily_code(SECRET, loc, DAY + timedelta(days=d)) for loc in range(10) for d in range(30)
    }
    assert len(codes) > 280


def test_checkin_text() -> None:
    assert checkin_text("centro", "012345") == "CHECKIN CENTRO 012345"


def test_whatsapp_link_prefills_the_checkin_text() -> None:
    link = whatsapp_link("+14155238886", "CHECKIN CENTRO 123456")
    assert link == "https://wa.me/14155238886?text=CHECKIN%20CENTRO%20123456"


def test_whatsapp_link_url_encodes_the_text() -> None:
    text = "Hola & adiós? #1 = 50% + más"
    link = whatsapp_link("+525555555555", text)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/525555555555")
    assert parts.fragment == ""  # the "#" did not cut the text short
    assert " " not in link and "&" not in parts.query.removeprefix("text=")
    assert parse_qs(parts.query) == {"text": [text]}
