"""Phone numbers in E.164, with WhatsApp's Mexican-mobile `+521` prefix folded to `+52`."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhone(ValueError):
    pass


def strip_channel(address: str) -> str:
    """`whatsapp:+5215512345678` → `+5215512345678`."""
    return address.split(":", 1)[1] if ":" in address else address


@lru_cache(maxsize=65536)  # the same senders write again and again; parsing is costly
def normalize_phone(raw: str, default_region: str = "MX") -> str:
    """Return E.164. WhatsApp writes Mexican mobiles as +521XXXXXXXXXX, which phonenumbers
    rejects since Mexico dropped the mobile `1` in 2019; drop it before parsing."""
    number = strip_channel(raw).strip().replace(" ", "").replace("-", "")
    if number.startswith("+521") and len(number) == 14:
        number = "+52" + number[4:]
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(raw) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(raw)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
