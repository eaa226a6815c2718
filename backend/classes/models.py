"""Group classes: class types, the weekly schedule, concrete sessions and bookings."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

SESSION_STATUSES = ("scheduled", "canceled")
# booked → attended | no_show | canceled; waitlisted → booked (promoted) | canceled.
BOOKING_STATUSES = ("booked", "waitlisted", "canceled", "attended", "no_show")
# Bookings that hold (or wait for) a seat.
ACTIVE_BOOKING_STATUSES = ("booked", "waitlisted")

# Plans whose holders may book a class type when it is not open to every plan.
class_type_plans = Table(
    "class_type_plans",
    Base.metadata,
    Column("class_type_id", ForeignKey("class_types.id", ondelete="CASCADE"), primary_key=True),
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
)


class ClassSettings(Base):
    """A gym's class rules; a gym without a row gets the defaults (see `ClassRules`)."""

    __tablename__ = "class_settings"

    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), primary_key=True)
    # A cancellation this long before the start gives the class credit back.
    cancel_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=120)
    reminder_minutes: Mapped[int] = mapped_column(Integer, default=120)
    # How many days ahead the schedule is materialized into bookable sessions.
    horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    # A check-in this long before the start (until the end) counts as attending.
    checkin_early_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # Approved WhatsApp templates by message kind ({"class_reminder": "HX…"}), used
    # because reminders may fall outside the 24-hour service window.
    templates: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassType(Base):
    __tablename__ = "class_types"
    __table_args__ = (UniqueConstraint("gym_id", "name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    default_capacity: Mapped[int] = mapped_column(Integer, default=20)
    # True: every plan; False: only the plans in class_type_plans.
    all_plans: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassSchedule(Base):
    """A recurring weekly slot: a class type at a location on a weekday at a local time."""

    __tablename__ = "class_schedules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    class_type_id: Mapped[int] = mapped_column(ForeignKey("class_types.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday … 6 = Sunday
    start_time: Mapped[time] = mapped_column(Time)  # wall clock in the gym's zone
    duration_minutes: Mapped[int | None] = mapped_column(Integer)  # None: the type's
    instructor_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    instructor_name: Mapped[str | None] = mapped_column(String(120))
    capacity: Mapped[int | None] = mapped_column(Integer)  # None: the type's default
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassSession(Base):
    """One concrete class members book: materialized from a schedule or created one-off."""

    __tablename__ = "class_sessions"
    __table_args__ = (
        # One session per schedule and local day, so materializing twice adds nothing.
        UniqueConstraint("schedule_id", "occurs_on"),
        Index("ix_class_sessions_gym_start", "gym_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    class_type_id: Mapped[int] = mapped_column(ForeignKey("class_types.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("class_schedules.id", ondelete="SET NULL")
    )
    # The schedule's local day this session stands for (kept when the session is moved).
    occurs_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instructor_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    instructor_name: Mapped[str | None] = mapped_column(String(120))
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # Changed by hand: later schedule edits leave it alone.
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the no-show job settled attendance (done once).
    attendance_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ClassBooking(Base):
    """A member's seat (or place in line) in one session; one row per member and session."""

    __tablename__ = "class_bookings"
    __table_args__ = (
        UniqueConstraint("session_id", "member_id"),
        Index("ix_class_bookings_member", "gym_id", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    # The subscription whose class credit this seat took (None: unlimited or none taken).
    credit_subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(60))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(10), default="chat")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
