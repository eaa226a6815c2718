from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class PrivacyRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    kind: Literal["access", "deletion"]
    status: Literal["pending_verification", "open", "completed", "canceled"]
    channel: str
    requested_at: datetime
    verified_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    result: dict[str, Any]
    overdue: bool = False
