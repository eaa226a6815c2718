from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow


class Conversation(Base):
    """Dialogue state of one member on one channel: active flow, its state and slots."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("gym_id", "member_id", "channel"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(12))
    flow: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(40))
    slots: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WhatsApp allows free-form messages only within 24 hours of the member's last message.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """Log of every message in and out; inbound ones are unique on the provider's id."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_messages_reply_to", "reply_to_id"),
        Index("ix_messages_member_time", "gym_id", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(12))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    provider_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))  # the member's raw channel address
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDict)
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # outbound: inline | queued | sent | delivered | read | failed | undelivered
    status: Mapped[str] = mapped_column(String(12), default="received")
    error_code: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryStatus(Base):
    """Every delivery callback the provider sent, kept even when it arrives before the
    message's provider id is stored (the send's transaction may not have committed yet)."""

    __tablename__ = "delivery_statuses"
    __table_args__ = (UniqueConstraint("channel", "provider_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(12))
    provider_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
