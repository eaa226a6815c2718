from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

MEMBER_STATUSES = ("prospect", "active", "inactive")


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("gym_id", "phone"),
        # Keyset pagination of a gym's members, newest first (the REST list).
        Index("ix_members_gym_created", "gym_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164, +52XXXXXXXXXX
    whatsapp_address: Mapped[str | None] = mapped_column(String(40))  # raw, used for replies
    name: Mapped[str | None] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    status: Mapped[str] = mapped_column(String(10), default="prospect")
    home_location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    biometrics_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    biometrics_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberEvent(Base):
    """Append-only log of what members do; partitioned by month on PostgreSQL.

    The mapper's key is `id` alone; on PostgreSQL the table's primary key is
    `(id, occurred_at)` because a partitioned table's key must hold the partition column.
    """

    __tablename__ = "member_events"
    __table_args__ = (Index("ix_member_events_member_time", "gym_id", "member_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)


class AuditEntry(Base):
    """Who changed what that matters to money, privacy or access."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(60))  # "member:12", "staff:3", "system"
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
