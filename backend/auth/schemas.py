from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The roles of backend.gyms.models.STAFF_ROLES.
StaffRole = Literal["owner", "manager", "staff", "trainer"]
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginRequest(_Input):
    email: str = Field(min_length=3, max_length=200)
    password: str = Field(min_length=1, max_length=200)
    gym: str | None = Field(
        default=None,
        max_length=60,
        description="Gym slug; needed only when the email is staff at more than one gym.",
    )


class RefreshRequest(_Input):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_token: str
    refresh_expires_in: int


class Me(BaseModel):
    gym_id: int
    kind: Literal["staff", "api_key"]
    subject_id: int
    role: str | None
    permissions: list[str]


class ApiKeyCreate(_Input):
    name: str = Field(min_length=1, max_length=80)
    scopes: list[str] = Field(min_length=1, max_length=20)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown only in this answer.")


class StaffCreate(_Input):
    email: str = Field(max_length=200, pattern=EMAIL_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    role: StaffRole
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=200,
        description="Omit it to have one generated and returned once.",
    )


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    active: bool
    created_at: datetime


class StaffCreated(StaffOut):
    password: str | None = Field(
        default=None, description="The generated password, shown only in this answer."
    )
