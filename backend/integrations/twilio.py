"""Twilio adapters: the REST sender (outbox) and webhook signature checks.

The twilio SDK has no base-URL setting; a subclass of its HTTP client rewrites
`*.twilio.com` to TWILIO_API_BASE_URL so tests and the demo reach a local fake server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from backend.messaging.sender import OutgoingMessage, SendFailed, SendReceipt

_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]+\.twilio\.com")


class RedirectingHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self._base_url:
            url = _TWILIO_HOST.sub(self._base_url, url)
        return super().request(method, url, *args, **kwargs)


class TwilioMessageSender:
    """`MessageSender` on Twilio's Messages API (WhatsApp senders are `whatsapp:+…`)."""

    def __init__(
        self, account_sid: str, auth_token: str, api_base_url: str = "", timeout: float = 10
    ) -> None:
        self._client = Client(
            account_sid, auth_token, http_client=RedirectingHttpClient(api_base_url, timeout)
        )

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        # The SDK is blocking: keep it off the event loop.
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: OutgoingMessage) -> SendReceipt:
        kwargs: dict[str, Any] = {"to": message.to, "from_": message.from_}
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        if message.content_sid:
            kwargs["content_sid"] = message.content_sid
            kwargs["content_variables"] = json.dumps(message.content_variables or {})
        else:
            kwargs["body"] = message.body
            if message.media_url:
                kwargs["media_url"] = [message.media_url]
        try:
            created = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            retryable = exc.status >= 500 or exc.status == 429
            raise SendFailed(
                str(exc.code) if exc.code else None, exc.msg, retryable=retryable
            ) from exc
        except (TwilioException, OSError) as exc:  # connection errors, timeouts
            raise SendFailed(None, str(exc), retryable=True) from exc
        return SendReceipt(provider_id=str(created.sid), status=str(created.status))


class TwilioSignature:
    """Checks `X-Twilio-Signature` the way Twilio signs: HMAC-SHA1 over URL + sorted params."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def is_valid(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        if not signature:
            return False
        # Twilio signs the URL it requested, which is ours as configured: one HMAC decides
        # a genuine request. Only a mismatch goes through the SDK's full check, which also
        # tries the URL with and without its default port (two more HMACs).
        if hmac.compare_digest(self.sign(url, params).encode(), signature.encode()):
            return True
        return bool(self._validator.validate(url, dict(params), signature))

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return str(self._validator.compute_signature(url, dict(params)))
