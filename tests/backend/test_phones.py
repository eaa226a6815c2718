"""E.164 normalization, with WhatsApp's Mexican-mobile `+521` folded to `+52`."""

from __future__ import annotations

import pytest

from backend.phones import InvalidPhone, normalize_phone, strip_channel


@pytest.mark.parametrize(
    "raw",
    [
        "whatsapp:+5215512345678",  # how Twilio sends a Mexican mobile
        "+5215512345678",
        "+525512345678",  # already E.164
        "+52 1 55 1234 5678",  # typed with spaces
        "+52-55-1234-5678",
        "5512345678",  # national format, Mexico by default
        " +5215512345678 ",
    ],
)
def test_mexican_mobile_forms_normalize_to_plus_52(raw: str) -> None:
    assert normalize_phone(raw) == "+525512345678"


def test_a_different_mexican_number_keeps_its_digits() -> None:
    assert normalize_phone("whatsapp:+5215587654321") == "+525587654321"


@pytest.mark.parametrize("raw", ["+14155238886", "whatsapp:+14155238886"])
def test_us_number_stays_as_is(raw: str) -> None:
    assert normalize_phone(raw) == "+14155238886"
    assert normalize_phone(raw, default_region="US") == "+14155238886"


@pytest.mark.parametrize(
    "raw",
    ["+52155", "hola", "", "   ", "whatsapp:", "+1415", "+999999999999", "521551234567"],
)
def test_invalid_input_raises_invalid_phone(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_invalid_phone_is_a_value_error_carrying_the_input() -> None:
    with pytest.raises(ValueError, match="hola"):
        normalize_phone("hola")


def test_strip_channel() -> None:
    assert strip_channel("whatsapp:+5215512345678") == "+5215512345678"
    assert strip_channel("+5215512345678") == "+5215512345678"
