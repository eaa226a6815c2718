"""Human-friendly referral codes: the referrer's first name and four digits (ANA-4821).

Digits avoid 0 and 1, which read as O and I/L when a code is dictated or typed from a
screenshot. Matching ignores case, accents, spaces and dashes ("ana 4821" = "ANA-4821").
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from urllib.parse import quote

DIGITS = "23456789"
CODE_DIGITS = 4
PREFIX_MAX = 8
FALLBACK_PREFIX = "AMIGO"
# What the NLU's `referral_code` entity accepts: 2-10 letters, optional dash, 4 digits.
_SHAPE = re.compile(r"^[A-Z]{2,10}\d{4}$")
_SEPARATORS = re.compile(r"[\s\-_.·]+")


def _ascii_upper(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c)).upper()


def normalize_code(text: str) -> str | None:
    """'ana-4821' / 'Ana 4821' → 'ANA4821'; None when it cannot be a code."""
    cleaned = _SEPARATORS.sub("", _ascii_upper(text.strip()))
    return cleaned if _SHAPE.match(cleaned) else None


def display_code(normalized: str) -> str:
    """'ANA4821' → 'ANA-4821'."""
    return f"{normalized[:-CODE_DIGITS]}-{normalized[-CODE_DIGITS:]}"


def prefixes(name: str | None) -> list[str]:
    """Name parts to try, most readable first: ANA, ANAL (surname initial), AMIGO."""
    words = [re.sub(r"[^A-Z]", "", _ascii_upper(w)) for w in (name or "").split()]
    words = [w for w in words if w]
    options: list[str] = []
    if words and len(words[0]) >= 2:
        first = words[0][:PREFIX_MAX]
        options.append(first)
        if len(words) > 1:
            options.append((first + words[1][0])[: PREFIX_MAX + 1])
    options.append(FALLBACK_PREFIX)
    return list(dict.fromkeys(options))


def random_digits() -> str:
    return "".join(secrets.choice(DIGITS) for _ in range(CODE_DIGITS))


def wa_link(gym_number: str, text: str) -> str:
    """`https://wa.me/<number>?text=...`: opens WhatsApp with `text` prefilled."""
    digits = re.sub(r"\D", "", gym_number)
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"
