"""Whatever a signed request carries, the webhook answers 200 with TwiML or a clear 4xx —
never a 500 — and a 4xx stores nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.models import Message
from tests.factories import make_member, make_subscription, standard_gym
from tests.whatsapp import STATUS_PATH, WhatsApp, recorded

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=20),
    st.sampled_from(
        [
            "ya llegué",
            "CHECKIN CENTRO 000000",
            "checkin norte 12345x",
            "sí",
            "no",
            "'; DROP TABLE members; --",
            "\x00\x01\x02",
            "a" * 5000,
            "menú",
        ]
    ),
)
numbers = st.one_of(st.text(max_size=12), st.integers(-5, 50).map(str), st.floats().map(str))
coordinates = st.one_of(
    st.floats(-90, 90).map(str),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "19.4327", "-99.1331", ""]),
    st.text(max_size=8),
)
phones = st.one_of(
    st.sampled_from(
        [
            "whatsapp:+5215512345678",
            "whatsapp:+5215500001111",
            "whatsapp:+1415555",
            "+5215512345678",
            "whatsapp:",
            "",
            "sms:+5215512345678",
        ]
    ),
    st.text(max_size=20),
)


@pytest.fixture
async def gym_wa(wa: WhatsApp, session: AsyncSession) -> WhatsApp:
    """The webhook with a gym and one active member (seeded once for all examples)."""
    gym, _, _, premium, _ = await standard_gym(session)
    await make_subscription(session, await make_member(session, gym), premium)
    await session.commit()
    return wa


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=texts,
    num_media=numbers,
    lat=coordinates,
    lng=coordinates,
    sender=phones,
    sid=st.one_of(
        st.just(""), st.text(max_size=80), st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True)
    ),
)
async def test_random_signed_forms_never_get_a_500(
    gym_wa: WhatsApp,
    session: AsyncSession,
    body: str,
    num_media: str,
    lat: str,
    lng: str,
    sender: str,
    sid: str,
) -> None:
    form = gym_wa.form(body, NumMedia=num_media, Latitude=lat, Longitude=lng, From=sender)
    if sid:
        form["MessageSid"] = sid
    before = await session.scalar(select(func.count()).select_from(Message))
    response = await gym_wa.post(form)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        ET.fromstring(response.text)  # well-formed TwiML
    else:
        assert response.json()["error"]["message_es"]
        assert await session.scalar(select(func.count()).select_from(Message)) == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sid=st.one_of(st.text(max_size=80), st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True)),
    status=st.one_of(
        st.text(max_size=30), st.sampled_from(["sent", "delivered", "read", "failed"])
    ),
    error_code=st.text(max_size=30),
)
async def test_random_signed_status_callbacks_never_get_a_500(
    gym_wa: WhatsApp, sid: str, status: str, error_code: str
) -> None:
    form = recorded("status_delivered") | {
        "MessageSid": sid,
        "MessageStatus": status,
        "ErrorCode": error_code,
    }
    response = await gym_wa.post(form, path=STATUS_PATH)
    assert response.status_code in (204, 400), response.text
