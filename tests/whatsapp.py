"""Drive the real WhatsApp webhook the way Twilio does: recorded-format forms, signed."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.integrations.twilio import TwilioSignature
from backend.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "twilio"
INBOUND_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def recorded(name: str) -> dict[str, str]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


class RecordingJobs:
    """A job queue that only records (tests call job functions themselves)."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, tuple[Any, ...], str | None]] = []

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None) -> None:
        self.enqueued.append((name, args, job_id))


@dataclass
class WhatsApp:
    client: httpx.AsyncClient
    settings: Settings
    phone: str = "whatsapp:+5215512345678"
    to: str = "whatsapp:+14155238886"
    last_status: int = 0
    history: list[str] = field(default_factory=list)

    def form(self, body: str = "", **extra: str) -> dict[str, str]:
        form = recorded("whatsapp_text")
        form.update(
            MessageSid=new_sid(),
            From=self.phone,
            To=self.to,
            Body=body,
            WaId=self.phone.removeprefix("whatsapp:+"),
        )
        form.update(extra)
        return form

    async def post(
        self, form: dict[str, str], path: str = INBOUND_PATH, signature: str | None = None
    ) -> httpx.Response:
        url = self.settings.public_base_url + path
        sig = TwilioSignature(self.settings.twilio_auth_token).sign(url, form)
        return await self.client.post(
            path, data=form, headers={"X-Twilio-Signature": sig if signature is None else signature}
        )

    async def say(self, body: str = "", **extra: str) -> str:
        """Send a message and return the bot's replies joined by blank lines."""
        response = await self.post(self.form(body, **extra))
        self.last_status = response.status_code
        assert response.status_code == 200, response.text
        replies = [m.text or "" for m in ET.fromstring(response.text).iter("Message")]
        text = "\n\n".join(replies)
        self.history.append(text)
        return text
