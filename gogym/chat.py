"""`gogym chat`: a WhatsApp-like console. Each line goes through the same signed Twilio
webhook a real message takes; the bot's TwiML answer and any outbox messages are printed."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET

import httpx

from backend.integrations.twilio import TwilioSignature
from backend.runtime import SIM_TWILIO_PREFIX
from backend.settings import Settings

# With no reply in the webhook's answer, the reply comes through the outbox: wait this long.
OUTBOX_WAIT_SECONDS = 6.0
HELP = (
    "Escribe como en WhatsApp. Comandos: /ubicacion LAT,LNG (mandar tu ubicación), "
    "/foto URL (mandar una foto), /salir"
)


def whatsapp_address(phone: str) -> str:
    """+525512345678 or +5215512345678 → whatsapp:+5215512345678 (how WhatsApp sends MX mobiles)."""
    phone = phone.strip().removeprefix("whatsapp:")
    if phone.startswith("+52") and len(phone) == 13:
        phone = "+521" + phone[3:]
    return f"whatsapp:{phone}"


class ChatClient:
    def __init__(self, settings: Settings, url: str, phone: str, to: str, name: str) -> None:
        self.settings = settings
        self.url = url.rstrip("/")
        self.sender = whatsapp_address(phone)
        self.to = f"whatsapp:{to}"
        self.name = name
        self.signer = TwilioSignature(settings.twilio_auth_token)
        self.http = httpx.Client(timeout=30)
        self.seen_outbox = 0

    def send(
        self,
        body: str = "",
        *,
        location: tuple[float, float] | None = None,
        media_url: str | None = None,
    ) -> list[str]:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": self.settings.twilio_account_sid,
            "From": self.sender,
            "To": self.to,
            "Body": body,
            "NumMedia": "0",
            "WaId": self.sender.removeprefix("whatsapp:+"),
            "ProfileName": self.name,
            "SmsStatus": "received",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        if location:
            params["Latitude"], params["Longitude"] = str(location[0]), str(location[1])
            params["MessageType"] = "location"
        if media_url:
            params.update(NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg")
        public = self.settings.public_base_url.rstrip("/") + "/webhooks/twilio/whatsapp"
        response = self.http.post(
            self.url + "/webhooks/twilio/whatsapp",
            data=params,
            headers={"X-Twilio-Signature": self.signer.sign(public, params)},
        )
        if response.status_code != 200:
            return [f"[HTTP {response.status_code}] {response.text}"]
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    def wait_outbox(self, seconds: float) -> list[str]:
        """Outbox messages that arrive within `seconds` (replies a worker sends later)."""
        deadline = time.monotonic() + seconds
        while True:
            messages = self.outbox()
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(0.2)

    def outbox(self) -> list[str]:
        """Messages the bot sent through the outbox (simulated Twilio) since last asked."""
        try:
            response = self.http.get(
                f"{self.url}{SIM_TWILIO_PREFIX}/outbox",
                params={"to": self.sender, "after": self.seen_outbox},
            )
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        messages = response.json()["messages"]
        if messages:
            self.seen_outbox = messages[-1]["seq"]
        return [m["body"] or f"[plantilla {m['content_sid']}]" for m in messages]


def run_console(client: ChatClient) -> None:
    print(f"Chateando como {client.sender} con {client.to}. {HELP}")
    client.outbox()
    while True:
        try:
            line = input("\ntú> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line in ("/salir", "/exit", "/quit"):
            return
        location, media = None, None
        if line.startswith(("/ubicacion", "/pin")):
            try:
                lat, lng = line.split(maxsplit=1)[1].split(",")
                location, line = (float(lat), float(lng)), ""
            except (IndexError, ValueError):
                print("Usa: /ubicacion 19.4326,-99.1332")
                continue
        elif line.startswith("/foto"):
            media, line = (
                line.split(maxsplit=1)[1] if " " in line else "https://example.invalid/foto.jpg",
                "",
            )
        try:
            replies = client.send(line, location=location, media_url=media)
        except httpx.HTTPError as exc:
            print(f"[sin conexión con el servidor: {exc}]")
            continue
        for reply in replies:
            print(f"\ngym> {reply}")
        for extra in client.wait_outbox(seconds=0.3 if replies else OUTBOX_WAIT_SECONDS):
            print(f"\ngym> {extra}")
