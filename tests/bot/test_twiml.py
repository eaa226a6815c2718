"""The TwiML answer is the document Twilio's SDK would write."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from twilio.twiml.messaging_response import MessagingResponse

from bot.whatsapp import twiml
from dialogs.messages import OutboundMessage, TurnResult

TEXTS = [
    "¡Listo, Ana! Registré tu entrada en Centro 💪",
    "Tom & Jerry <3 \"comillas\" 'apóstrofo' > < &amp;",
    "línea 1\nlínea 2\ttab",
    "",
]


def sdk(result: TurnResult) -> str:
    response = MessagingResponse()
    for reply in result.replies:
        message = response.message(reply.text)
        if reply.media_url:
            message.media(reply.media_url)
    return str(response)


@pytest.mark.parametrize(
    "result",
    [
        TurnResult([OutboundMessage(text) for text in TEXTS]),
        TurnResult([OutboundMessage("tu factura", media_url="https://x.mx/f?a=1&b=<2>")]),
        TurnResult(queued=True),
    ],
)
def test_same_document_as_the_sdk(result: TurnResult) -> None:
    ours = bytes(twiml(result).body).decode()
    assert ours.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    mine, theirs = ET.fromstring(ours), ET.fromstring(sdk(result))
    assert [(m.text or "", [x.text for x in m]) for m in mine] == [
        (m.text or "", [x.text for x in m]) for m in theirs
    ]
    assert mine.tag == theirs.tag == "Response"


def test_characters_xml_cannot_carry_are_dropped() -> None:
    body = bytes(twiml(TurnResult([OutboundMessage("hola\x00\x07 Ana\x1f")])).body).decode()
    assert ET.fromstring(body).find("Message").text == "hola Ana"  # type: ignore[union-attr]
