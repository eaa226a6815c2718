from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

TICKET_STATUSES = ("open", "closed")
TICKET_KINDS = ("question", "complaint")


class HandoffTicket(Base):
    """A member asked for a person (or complained): staff answer, the bot keeps quiet in
    that conversation until the ticket is closed or `silence_until` passes."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        Index("ix_handoff_tickets_member", "gym_id", "member_id", "status"),
        Index("ix_handoff_tickets_gym_opened", "gym_id", "opened_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(12), default="whatsapp")
    status: Mapped[str] = mapped_column(String(8), default="open")
    kind: Mapped[str] = mapped_column(String(10), default="question")
    summary: Mapped[str] = mapped_column(Text, default="")  # what the member wrote
    # The last messages before the handoff: [{"direction", "body", "at"}].
    context: Mapped[list[dict[str, Any]]] = mapped_column(JSONDict, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    silence_until: Mapped[datetime] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(60))
