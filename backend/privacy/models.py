from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

REQUEST_KINDS = ("access", "deletion")
# pending_verification: waiting for the member's confirmation code; open: verified, the
# legal clock runs; completed: done (what was done is in `result`); canceled.
REQUEST_STATUSES = ("pending_verification", "open", "completed", "canceled")


class PrivacyRequest(Base):
    """An ARCO request (LFPDPPP): access (data export) or cancellation (deletion)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_gym_requested", "gym_id", "requested_at", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(22))
    channel: Mapped[str] = mapped_column(String(12), default="whatsapp")
    # SHA-256 of the confirmation code sent in the chat (deletion requests).
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The legal deadline: 20 business days from the verified request (LFPDPPP art. 32).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(60))
    result: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
