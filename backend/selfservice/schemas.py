from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from backend.selfservice.service import RetentionOffer

_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class SelfServiceSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # {"all": ["Regaderas", "Lockers"], "<location_id>": ["Alberca"]}
    amenities: dict[str, list[str]] = Field(default_factory=dict)
    # Reason (price, travel, time, health, service, other) → offer instead of cancelling.
    retention_offers: dict[str, RetentionOffer] = Field(default_factory=dict)
    privacy_notice_url: HttpUrl | None = None
    handoff_reply_minutes: int = Field(default=120, ge=5, le=2880)


class SelfServiceSettingsOut(BaseModel):
    amenities: dict[str, list[str]]
    retention_offers: dict[str, RetentionOffer]
    privacy_notice_url: str | None
    handoff_reply_minutes: int


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    name: str = Field(min_length=1, max_length=120)
    location_id: int | None = Field(default=None, description="null: every location")
    closed: bool = True
    opens: str | None = Field(default=None, pattern=_CLOCK)
    closes: str | None = Field(default=None, pattern=_CLOCK)


class HolidayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    day: date
    name: str
    location_id: int | None
    closed: bool
    opens: str | None
    closes: str | None
