"""The WhatsApp webhook: signatures, idempotency, bad input — through the real route."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.checkins.models import CheckIn
from backend.conversations.models import Message
from backend.integrations.twilio import TwilioSignature
from backend.members.models import Member
from tests.factories import make_member, make_subscription, standard_gym
from tests.whatsapp import INBOUND_PATH, STATUS_PATH, WhatsApp, new_sid, recorded


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_forged_signature_is_refused_and_nothing_stored(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await standard_gym(session)
    await session.commit()
    for signature in ("forged", ""):
        response = await wa.post(wa.form("hola"), signature=signature)
        assert response.status_code == 403
        assert response.json()["error"]["message_es"]
    assert await count(session, Message) == 0
    assert await count(session, Member) == 0


async def test_signature_uses_public_url_not_internal(wa: WhatsApp, session: AsyncSession) -> None:
    await standard_gym(session)
    await session.commit()
    form = wa.form("hola")
    internal = TwilioSignature(wa.settings.twilio_auth_token).sign(
        "http://internal:8000/webhooks/twilio/whatsapp", form
    )
    assert (await wa.post(form, signature=internal)).status_code == 403


async def test_repeated_message_sid_returns_same_reply_and_changes_nothing(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, _centro, _, premium, _ = await standard_gym(session)
    member = await make_member(session, gym)
    await make_subscription(session, member, premium)
    await session.commit()
    gym.checkin_policy = "trust"
    await session.commit()
    form = wa.form("ya llegué")
    first = await wa.post(form)
    second = await wa.post(form)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    assert "Centro" in first.text
    assert await count(session, CheckIn) == 1
    assert await count(session, Message) == 2  # one in, one reply


async def test_unknown_gym_number_is_404_and_nothing_stored(
    wa: WhatsApp, session: AsyncSession
) -> None:
    await standard_gym(session)
    await session.commit()
    response = await wa.post(wa.form("hola", To="whatsapp:+14155550100"))
    assert response.status_code == 404
    assert response.json()["error"]["message_en"]
    assert await count(session, Message) == 0


async def test_malformed_forms_get_clear_4xx(wa: WhatsApp, session: AsyncSession) -> None:
    await standard_gym(session)
    await session.commit()
    no_sid = wa.form("hola")
    del no_sid["MessageSid"]
    assert (await wa.post(no_sid)).status_code == 400
    assert (await wa.post(wa.form("hola", NumMedia="dos"))).status_code == 400
    assert (await wa.post(wa.form("", Latitude="norte", Longitude="-99"))).status_code == 400
    assert (await wa.post(wa.form("hola", From="whatsapp:+52155"))).status_code == 422
    raw = await wa.client.post(
        "/webhooks/twilio/whatsapp",
        content=b"\xff\xfe garbage",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert raw.status_code in (400, 403)
    huge = wa.form("hola", MediaUrl0="https://api.twilio.com/" + "x" * 70_000)
    too_large = await wa.post(huge)
    assert too_large.status_code == 413
    assert too_large.json()["error"]["message_es"]
    assert await count(session, Message) == 0


async def test_empty_emoji_long_and_media_messages_get_answers(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, *_ = await standard_gym(session)
    await make_member(session, gym)
    await session.commit()
    assert "ayuda" in (await wa.say("")).lower()
    assert await wa.say("🤷‍♀️🤷‍♀️")
    assert "largo" in (await wa.say("a" * 4000)).lower()
    image = recorded("whatsapp_image")
    image.update(MessageSid=new_sid(), From=wa.phone)
    response = await wa.post(image)
    assert response.status_code == 200 and "archivo" in response.text
    stored = await session.scalar(select(Message).where(Message.provider_id == image["MessageSid"]))
    assert stored is not None and stored.media and stored.media[0]["content_type"] == "image/jpeg"


async def test_status_callback_updates_delivery_and_ignores_unknown(
    wa: WhatsApp, session: AsyncSession
) -> None:
    gym, *_ = await standard_gym(session)
    member = await make_member(session, gym)
    sid = recorded("status_delivered")["MessageSid"]
    session.add(
        Message(
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            direction="out",
            provider_id=sid,
            address=wa.phone,
            body="hola",
            status="sent",
        )
    )
    await session.commit()
    delivered = recorded("status_delivered")
    assert (await wa.post(delivered, path=STATUS_PATH)).status_code == 204
    late_sent = dict(delivered, MessageStatus="sent", SmsStatus="sent")
    assert (await wa.post(late_sent, path=STATUS_PATH)).status_code == 204
    msg = await session.scalar(select(Message).where(Message.provider_id == sid))
    await session.refresh(msg)
    assert msg is not None and msg.status == "delivered"  # never moves backwards
    unknown = dict(delivered, MessageSid=new_sid())
    assert (await wa.post(unknown, path=STATUS_PATH)).status_code == 204
    assert (await wa.post(delivered, path=STATUS_PATH, signature="nope")).status_code == 403


async def test_nul_bytes_are_dropped_not_a_500(wa: WhatsApp, session: AsyncSession) -> None:
    gym, *_ = await standard_gym(session)
    await make_member(session, gym)
    await session.commit()
    assert "Ana" in await wa.say("ho\x00la", ProfileName="A\x00na")
    stored = await session.scalar(select(Message).where(Message.direction == "in"))
    assert stored is not None and stored.body == "hola"


async def test_the_webhook_is_in_the_openapi_schema_with_twilios_fields(wa: WhatsApp) -> None:
    spec = (await wa.client.get("/openapi.json")).json()
    post = spec["paths"][INBOUND_PATH]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert set(form["required"]) == {"MessageSid", "From", "To"}
    fields = {"Body", "WaId", "ProfileName", "NumMedia", "MediaUrl0", "Latitude", "Longitude"}
    assert fields <= set(form["properties"])
    assert {"200", "400", "403", "413"} <= set(post["responses"])
    assert (await wa.client.get(INBOUND_PATH)).status_code == 405  # only POST is served
