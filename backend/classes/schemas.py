"""Request and response bodies of `/api/v1/classes`."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClassTypeCreate(_Input):
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=300)
    duration_minutes: int = Field(default=60, ge=5, le=600)
    default_capacity: int = Field(default=20, ge=1, le=500)
    plan_ids: list[int] | None = Field(
        default=None, description="Plans whose holders may book it; null: every plan."
    )


class ClassTypeUpdate(_Input):
    """Only the fields sent change; `plan_ids: null` opens the class to every plan."""

    name: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=300)
    duration_minutes: int | None = Field(default=None, ge=5, le=600)
    default_capacity: int | None = Field(default=None, ge=1, le=500)
    plan_ids: list[int] | None = None
    active: bool | None = None


class ClassTypeOut(BaseModel):
    id: int
    name: str
    description: str
    duration_minutes: int
    default_capacity: int
    all_plans: bool
    plan_ids: list[int]
    active: bool


class ScheduleCreate(_Input):
    class_type_id: int
    location_id: int
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")
    start_time: time = Field(description="Local wall-clock time in the gym's zone, e.g. 07:00.")
    valid_from: date
    valid_until: date | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=600)
    capacity: int | None = Field(default=None, ge=1, le=500)
    instructor_id: int | None = Field(default=None, description="A staff user with role trainer.")
    instructor_name: str | None = Field(default=None, min_length=1, max_length=120)

    @model_validator(mode="after")
    def _dates_in_order(self) -> ScheduleCreate:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ScheduleUpdate(_Input):
    """Applies from now on to future sessions not changed by hand."""

    start_time: time | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=600)
    capacity: int | None = Field(default=None, ge=1, le=500)
    instructor_id: int | None = None
    instructor_name: str | None = Field(default=None, min_length=1, max_length=120)
    valid_until: date | None = None
    active: bool | None = None


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    class_type_id: int
    location_id: int
    weekday: int
    start_time: time
    duration_minutes: int | None
    capacity: int | None
    instructor_id: int | None
    instructor_name: str | None
    valid_from: date
    valid_until: date | None
    active: bool


class SessionCreate(_Input):
    class_type_id: int
    location_id: int
    starts_at: AwareDatetime
    duration_minutes: int | None = Field(default=None, ge=5, le=600)
    capacity: int | None = Field(default=None, ge=1, le=500)
    instructor_id: int | None = None
    instructor_name: str | None = Field(default=None, min_length=1, max_length=120)


class SessionUpdate(_Input):
    """A one-off change to one session; members booked are told when it moves."""

    starts_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=600)
    location_id: int | None = None
    capacity: int | None = Field(default=None, ge=1, le=500)
    instructor_id: int | None = None
    instructor_name: str | None = Field(default=None, min_length=1, max_length=120)


class SessionCancel(_Input):
    reason: str = Field(default="", max_length=300, description="Told to the members booked.")


class SessionOut(BaseModel):
    id: int
    class_type_id: int
    class_name: str
    location_id: int
    location_name: str
    schedule_id: int | None
    starts_at: datetime
    ends_at: datetime
    local_start: str = Field(description="Start in the gym's zone, ISO 8601 with offset.")
    instructor_id: int | None
    instructor_name: str | None
    capacity: int
    booked: int
    waitlisted: int
    free: int
    status: str
    cancel_reason: str | None


class BookingCreate(_Input):
    member_id: int
    waitlist: bool = Field(default=False, description="Join the waitlist when it is full.")


class AttendanceMark(_Input):
    booking_id: int
    status: Literal["attended", "no_show"]


class BookingOut(BaseModel):
    id: int
    session_id: int
    member_id: int
    member_name: str | None
    member_phone: str
    status: str
    waitlist_position: int | None
    booked_at: datetime | None
    promoted_at: datetime | None
    canceled_at: datetime | None
    cancel_reason: str | None
    attendance_at: datetime | None
    source: str


class ClassSettingsIn(_Input):
    cancel_cutoff_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    reminder_minutes: int = Field(default=120, ge=10, le=24 * 60)
    horizon_days: int = Field(default=14, ge=1, le=60)
    checkin_early_minutes: int = Field(default=60, ge=0, le=240)
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="Approved WhatsApp template SIDs by kind: class_reminder,"
        " class_reminder_tomorrow (sent the evening before when the reminder would fall in"
        " quiet hours), class_promoted, class_moved, class_session_canceled.",
    )


class ClassSettingsOut(ClassSettingsIn):
    pass
