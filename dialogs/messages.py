"""Channel-free messages: what `bot/` channels hand the dialogue manager and get back."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # "whatsapp"
    sender: str  # the member's raw address, e.g. "whatsapp:+5215512345678"
    gym: str  # the address the member wrote to, e.g. "whatsapp:+14155238886"
    text: str
    provider_id: str  # MessageSid / update_id: unique per delivery
    media: tuple[Media, ...] = ()
    location: GeoPoint | None = None
    profile_name: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    text: str
    media_url: str | None = None


@dataclass
class TurnResult:
    """What a channel sends back inline; `queued` replies leave through the outbox instead."""

    replies: list[OutboundMessage] = field(default_factory=list)
    duplicate: bool = False
    queued: bool = False
