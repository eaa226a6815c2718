"""A local stand-in for Twilio's Messages API, speaking its wire format.

Used by `make demo` (mounted at /_sim/twilio when SIMULATE_PROVIDERS is on) and by the
tests: the real `TwilioMessageSender` talks to it through TWILIO_API_BASE_URL, and it
posts signed delivery callbacks back to the status webhook, as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.integrations.twilio import TwilioSignature

API_PREFIX = "/2010-04-01/Accounts/{account_sid}/Messages.json"


@dataclass
class SentMessage:
    seq: int
    sid: str
    to: str
    from_: str
    body: str
    content_sid: str | None
    status_callback: str | None
    created_at: datetime
    media_url: str | None = None


@dataclass
class _Failure:
    status: int
    code: int
    message: str


@dataclass
class TwilioSimulator:
    account_sid: str
    auth_token: str
    deliver_callbacks: bool = True
    sent: deque[SentMessage] = field(default_factory=lambda: deque(maxlen=2000))
    _failures: list[_Failure] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _seq: int = 0

    def fail_next(self, status: int, code: int, message: str, times: int = 1) -> None:
        """Make the next `times` sends fail like Twilio would (tests)."""
        self._failures += [_Failure(status, code, message)] * times

    def messages_to(self, to: str, after: int = 0) -> list[SentMessage]:
        return [m for m in self.sent if m.to == to and m.seq > after]

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(API_PREFIX, self._create, methods=["POST"], include_in_schema=False)
        router.add_api_route("/outbox", self._list, methods=["GET"], include_in_schema=False)
        return router

    def _authorized(self, request: Request, account_sid: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        header = request.headers.get("authorization", "")
        return account_sid == self.account_sid and secrets.compare_digest(
            header, f"Basic {expected}"
        )

    async def _create(self, account_sid: str, request: Request) -> JSONResponse:
        if not self._authorized(request, account_sid):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        to, from_ = str(form.get("To", "")), str(form.get("From", ""))
        body, content_sid = str(form.get("Body", "")), form.get("ContentSid")
        media = form.get("MediaUrl")
        if not to or not from_:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not body and not content_sid and not media:
            return _error(400, 21619, "A text message body or media urls must be specified.")
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.code, failure.message)
        self._seq += 1
        now = datetime.now(UTC)
        callback = form.get("StatusCallback")
        msg = SentMessage(
            self._seq,
            "SM" + secrets.token_hex(16),
            to,
            from_,
            body,
            str(content_sid) if content_sid else None,
            str(callback) if callback else None,
            now,
            str(media) if media else None,
        )
        self.sent.append(msg)
        if msg.status_callback and self.deliver_callbacks:
            task = asyncio.create_task(self._deliver(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return JSONResponse(_resource(msg, account_sid), status_code=201)

    async def _list(self, to: str, after: int = 0) -> dict[str, Any]:
        return {
            "messages": [
                {
                    "seq": m.seq,
                    "sid": m.sid,
                    "body": m.body,
                    "content_sid": m.content_sid,
                    "media_url": m.media_url,
                }
                for m in self.messages_to(to, after)
            ]
        }

    async def _deliver(self, msg: SentMessage) -> None:
        assert msg.status_callback
        signer = TwilioSignature(self.auth_token)
        async with httpx.AsyncClient(timeout=5) as client:
            for status in ("sent", "delivered"):
                await asyncio.sleep(0.05)
                params = {
                    "MessageSid": msg.sid,
                    "SmsSid": msg.sid,
                    "AccountSid": self.account_sid,
                    "From": msg.from_,
                    "To": msg.to,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "ApiVersion": "2010-04-01",
                }
                headers = {"X-Twilio-Signature": signer.sign(msg.status_callback, params)}
                try:
                    await client.post(msg.status_callback, data=params, headers=headers)
                except httpx.HTTPError:
                    return  # Twilio gives up on an unreachable callback too


def _resource(msg: SentMessage, account_sid: str) -> dict[str, Any]:
    stamp = format_datetime(msg.created_at, usegmt=True)
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": msg.body,
        "date_created": stamp,
        "date_updated": stamp,
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": msg.from_,
        "messaging_service_sid": None,
        "num_media": "1" if msg.media_url else "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": msg.sid,
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{msg.sid}/Media.json"
        },
        "to": msg.to,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{msg.sid}.json",
    }


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )
