"""WhatsApp over Twilio: the inbound webhook (TwiML answer) and the delivery-status webhook.

Both check `X-Twilio-Signature` against PUBLIC_BASE_URL + path, never the internal URL
(behind a proxy they differ); a forged or unsigned request gets 403 and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request, Response
from starlette.types import Message

from backend.conversations.service import apply_delivery_status
from backend.db import transaction
from backend.errors import Forbidden, InvalidInput
from backend.integrations.twilio import TwilioSignature
from backend.settings import Settings
from dialogs.messages import GeoPoint, InboundMessage, Media, TurnResult

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
# Twilio resource ids: a two-letter type prefix (SM, MM…) and 32 hex digits.
TWILIO_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
MAX_MEDIA = 10
# Twilio's forms are a few KB (1,600-character body, up to 10 media URLs).
MAX_FORM_BYTES = 64 * 1024
INBOUND_PATH = "/webhooks/twilio/whatsapp"
TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'
# Characters XML 1.0 cannot carry at all (control characters but tab and newlines).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
URLENCODED = "application/x-www-form-urlencoded"
Handler = Callable[[InboundMessage], Awaitable[TurnResult]]


class BadTwilioRequest(InvalidInput):
    status_code = 400
    code = "bad_request"


class FormTooLarge(InvalidInput):
    status_code = 413
    code = "payload_too_large"


async def _body(request: Request) -> bytes:
    """The request body, refused past MAX_FORM_BYTES without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise FormTooLarge("Formulario demasiado grande.", "Form too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLarge("Formulario demasiado grande.", "Form too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _public_url(settings: Settings, request: Request) -> str:
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def _form_fields(request: Request) -> dict[str, str]:
    # Twilio posts url-encoded forms: parsed directly, as Starlette would (latin-1 bytes,
    # percent-escapes as UTF-8), without the multipart machinery; anything else goes to it.
    body = await _body(request)
    if request.headers.get("content-type", "").startswith(URLENCODED):
        return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))

    async def replay() -> Message:  # the body already read, for the multipart parser
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form()
    except Exception as exc:  # malformed multipart or encoding
        raise BadTwilioRequest("Formulario inválido.", "Malformed form body.") from exc
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def signed_form(request: Request) -> dict[str, str]:
    """The request's form fields, if and only if Twilio signed them."""
    settings: Settings = request.app.state.settings
    signer: TwilioSignature = request.app.state.twilio_signature
    params = await _form_fields(request)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signer.is_valid(_public_url(settings, request), params, signature):
        raise Forbidden("Firma de Twilio inválida.", "Invalid Twilio signature.")
    # Verified as sent; PostgreSQL text cannot hold NUL, and no real field needs one.
    return {k: v.replace("\x00", "") for k, v in params.items()}


def parse_inbound(form: Mapping[str, str]) -> InboundMessage:
    """Twilio's WhatsApp webhook fields → a channel-free InboundMessage."""
    sid, sender, to = form.get("MessageSid", ""), form.get("From", ""), form.get("To", "")
    if not sid or not sender or not to:
        raise BadTwilioRequest(
            "Faltan MessageSid, From o To.", "MessageSid, From and To are required."
        )
    if not TWILIO_SID.fullmatch(sid):
        raise BadTwilioRequest("MessageSid inválido.", "Invalid MessageSid.")
    try:
        num_media = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError as exc:
        raise BadTwilioRequest("NumMedia inválido.", "Invalid NumMedia.") from exc
    media = tuple(
        Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(num_media)
        if form.get(f"MediaUrl{i}")
    )
    location = None
    if form.get("Latitude") and form.get("Longitude"):
        try:
            lat, lng = float(form["Latitude"]), float(form["Longitude"])
        except ValueError as exc:
            raise BadTwilioRequest("Ubicación inválida.", "Invalid location.") from exc
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise BadTwilioRequest("Ubicación fuera de rango.", "Location out of range.")
        location = GeoPoint(lat, lng)
    return InboundMessage(
        channel=CHANNEL,
        sender=sender,
        gym=to,
        text=form.get("Body", ""),
        provider_id=sid,
        media=media,
        location=location,
        profile_name=form.get("ProfileName") or None,
    )


def twiml(result: TurnResult) -> Response:
    """The TwiML answer, written directly: the same document as the SDK's
    `MessagingResponse` (tests compare them), at a twentieth of its cost."""
    parts = [TWIML_HEAD]
    for reply in result.replies:
        parts.append(f"<Message>{_xml_text(reply.text)}")
        if reply.media_url:
            parts.append(f"<Media>{_xml_text(reply.media_url)}</Media>")
        parts.append("</Message>")
    parts.append("</Response>")
    return Response("".join(parts), media_type="application/xml")


def _xml_text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def inbound(handler_of: Callable[[Request], Handler]) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of INBOUND_PATH, served by the app's fast lane (`GoGymApp.add_fast_route`):
    the busiest route, it needs none of FastAPI's per-request machinery."""

    async def whatsapp_inbound(request: Request) -> Response:
        """Twilio WhatsApp inbound message → TwiML answer."""
        message = parse_inbound(await signed_form(request))
        settings: Settings = request.app.state.settings
        task = asyncio.ensure_future(handler_of(request)(message))
        try:
            # Twilio waits ~15 s; past our deadline the turn finishes on its own and its
            # replies leave through the outbox (the engine decides that before commit).
            result = await asyncio.wait_for(
                asyncio.shield(task), timeout=settings.inline_reply_seconds + 2
            )
        except TimeoutError:
            request.app.state.background.add(task)
            task.add_done_callback(request.app.state.background.discard)
            return twiml(TurnResult(queued=True))
        return twiml(result)

    return whatsapp_inbound


def _text(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


# The OpenAPI description of INBOUND_PATH: the endpoint parses its form itself (fast lane),
# so FastAPI cannot infer it. Fields as Twilio sends them for WhatsApp.
INBOUND_DOC: dict[str, Any] = {
    "summary": "Twilio WhatsApp inbound message",
    "description": "Signed by Twilio (`X-Twilio-Signature` over PUBLIC_BASE_URL + path). "
    "Answers with TwiML carrying the bot's replies; a repeated MessageSid gets the same "
    "answer and changes nothing.",
    "tags": ["webhooks"],
    "response_class": Response,
    "openapi_extra": {
        "parameters": [
            {
                "name": "X-Twilio-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                URLENCODED: {
                    "schema": {
                        "type": "object",
                        "required": ["MessageSid", "From", "To"],
                        "properties": {
                            "MessageSid": _text("SM… or MM…, 34 characters"),
                            "From": _text("the member, e.g. whatsapp:+5215512345678"),
                            "To": _text("the gym's WhatsApp number, e.g. whatsapp:+14155238886"),
                            "Body": _text("the text, empty for media or a location"),
                            "WaId": _text("the member's WhatsApp id (digits)"),
                            "ProfileName": _text("the member's WhatsApp profile name"),
                            "NumMedia": _text("how many MediaUrlN/MediaContentTypeN follow"),
                            "MediaUrl0": _text("the first photo or file"),
                            "MediaContentType0": _text("its MIME type"),
                            "Latitude": _text("a shared location pin"),
                            "Longitude": _text("a shared location pin"),
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "TwiML", "content": {"application/xml": {}}},
            "400": {"description": "A field is missing or malformed (bilingual error)"},
            "403": {"description": "Missing or forged signature; nothing is stored"},
            "413": {"description": "A form over 64 KB"},
        },
    },
}


def router() -> APIRouter:
    api = APIRouter(tags=["webhooks"])

    @api.post("/webhooks/twilio/status", summary="Twilio message delivery status")
    async def whatsapp_status(
        request: Request, form: dict[str, str] = Depends(signed_form)
    ) -> Response:
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not TWILIO_SID.fullmatch(sid) or not status or len(status) > 12:
            raise BadTwilioRequest(
                "MessageSid o MessageStatus inválidos.", "Invalid MessageSid or MessageStatus."
            )
        async with transaction(request.app.state.sessionmaker) as session:
            error_code = form.get("ErrorCode", "")[:12] or None  # Twilio codes are 5 digits
            await apply_delivery_status(session, CHANNEL, sid, status, error_code)
        return Response(status_code=204)

    return api
