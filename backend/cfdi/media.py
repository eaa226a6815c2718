"""Signed, expiring links to a CFDI's XML and PDF (what WhatsApp fetches to attach them)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from backend.settings import Settings

FORMATS = ("xml", "pdf")
MEDIA_PATH = "/media/cfdi"


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"gogym-cfdi-media:" + settings.secret_key.encode()).digest()


def signature(settings: Settings, document_id: int, fmt: str, expires: int) -> str:
    message = f"{document_id}.{fmt}.{expires}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()


def signed_url(settings: Settings, document_id: int, fmt: str, now: datetime) -> str:
    expires = int((now + timedelta(minutes=settings.cfdi_media_ttl_minutes)).timestamp())
    sig = signature(settings, document_id, fmt, expires)
    base = settings.public_base_url.rstrip("/")
    return f"{base}{MEDIA_PATH}/{document_id}.{fmt}?exp={expires}&sig={sig}"


def is_valid(
    settings: Settings, document_id: int, fmt: str, expires: int, sig: str, now: datetime
) -> bool:
    if fmt not in FORMATS or expires < int(now.timestamp()):
        return False
    return hmac.compare_digest(signature(settings, document_id, fmt, expires), sig)
