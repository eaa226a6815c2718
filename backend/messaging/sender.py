"""The `MessageSender` port: how outbox messages leave (Twilio adapter in integrations/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    from_: str
    body: str
    content_sid: str | None = None
    content_variables: dict[str, Any] | None = None
    status_callback: str | None = None
    media_url: str | None = None  # a file the provider fetches and attaches


@dataclass(frozen=True)
class SendReceipt:
    provider_id: str
    status: str


class SendFailed(Exception):
    def __init__(self, code: str | None, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.retryable = retryable


class MessageSender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendReceipt: ...
