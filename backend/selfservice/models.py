from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow


class SelfServiceSettings(Base):
    """A gym's self-service settings; a gym without a row gets the defaults."""

    __tablename__ = "selfservice_settings"

    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), primary_key=True)
    # {"all": ["Regaderas", "Lockers"], "<location_id>": ["Alberca"]}
    amenities: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    # Reason code → what to offer instead of cancelling:
    # {"price": {"kind": "downgrade"}, "travel": {"kind": "freeze"},
    #  "time": {"kind": "discount", "percent": 20, "months": 2}}
    retention_offers: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    privacy_notice_url: Mapped[str | None] = mapped_column(String(300))
    # What staff promise for a handoff answer inside business hours.
    handoff_reply_minutes: Mapped[int] = mapped_column(Integer, default=120)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GymHoliday(Base):
    """A day a location (or every location: `location_id` null) is closed or keeps special
    hours, e.g. 16 de septiembre or 25 de diciembre."""

    __tablename__ = "gym_holidays"
    __table_args__ = (Index("ix_gym_holidays_gym_day", "gym_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))
    closed: Mapped[bool] = mapped_column(Boolean, default=True)
    opens: Mapped[str | None] = mapped_column(String(5))  # "08:00", local
    closes: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
