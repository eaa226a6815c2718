from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    member_name: str | None = None
    channel: str
    status: Literal["open", "closed"]
    kind: Literal["question", "complaint"]
    summary: str
    opened_at: datetime
    silence_until: datetime
    first_reply_at: datetime | None
    last_reply_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None


class TicketMessage(BaseModel):
    direction: str
    body: str
    at: datetime


class TicketDetail(TicketOut):
    context: list[dict[str, Any]]
    messages: list[TicketMessage]


class TicketReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=1600)


class TicketClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(default=None, max_length=1600)
