from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The statuses of backend.members.models.MEMBER_STATUSES.
MemberStatus = Literal["prospect", "active", "inactive"]
Locale = Literal["es", "en"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberCreate(_Input):
    phone: str = Field(
        min_length=8, max_length=40, description="Any common format; stored as E.164 (+52…)."
    )
    name: str | None = Field(default=None, min_length=1, max_length=120)
    locale: Locale = "es"
    status: Literal["prospect", "active"] = "prospect"
    home_location_id: int | None = None
    marketing_opt_in: bool = False
    biometrics_opt_in: bool = False


class MemberUpdate(_Input):
    """Only the fields sent change; `null` clears `name` or `home_location_id`."""

    phone: str | None = Field(default=None, min_length=8, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    locale: Locale | None = None
    status: MemberStatus | None = None
    home_location_id: int | None = None
    marketing_opt_in: bool | None = None
    biometrics_opt_in: bool | None = None


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    phone: str
    name: str | None
    locale: str
    status: str
    home_location_id: int | None
    marketing_opt_in: bool
    marketing_opt_in_at: datetime | None
    biometrics_opt_in: bool
    biometrics_opt_in_at: datetime | None
    created_at: datetime
