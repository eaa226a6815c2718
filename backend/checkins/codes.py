"""Rotating daily check-in codes: the text behind each front desk's QR for the day."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from urllib.parse import quote


def daily_code(secret_key: str, location_id: int, day: date) -> str:
    """Six digits derived from the server secret, the location and the gym-local date."""
    mac = hmac.new(
        secret_key.encode(), f"checkin:{location_id}:{day.isoformat()}".encode(), hashlib.sha256
    ).digest()
    return f"{int.from_bytes(mac[:4], 'big') % 1_000_000:06d}"


def checkin_text(location_slug: str, code: str) -> str:
    return f"CHECKIN {location_slug.upper()} {code}"


def whatsapp_link(gym_number: str, text: str) -> str:
    """The link encoded in the QR: opens WhatsApp with the check-in text prefilled."""
    return f"https://wa.me/{gym_number.lstrip('+')}?text={quote(text)}"
