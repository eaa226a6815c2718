from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "sent", "failed", "dead")


class OutboxMessage(Base):
    """A message to send later, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))  # the outbound log row
    channel: Mapped[str] = mapped_column(String(12))
    to_address: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    # Outside WhatsApp's 24-hour window only approved templates go out.
    content_sid: Mapped[str | None] = mapped_column(String(40))
    content_variables: Mapped[dict[str, Any] | None] = mapped_column(JSONDict)
    # A file sent with the message (WhatsApp media: PDF, image), fetched by the provider.
    media_url: Mapped[str | None] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(14), default="transactional")  # or marketing
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
