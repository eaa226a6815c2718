"""/api/v1/cfdi: list, download, resend, cancel — scoped to the caller's gym; and the
signed media links WhatsApp fetches."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.cfdi.media import signed_url
from backend.cfdi.models import CfdiDocument
from backend.cfdi.tasks import sweep
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    auth_headers,
    make_fiscal_profile,
    make_gym,
    make_member,
    make_member_fiscal,
    make_payment,
    make_second_gym,
    make_staff,
)


async def _stamped(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> tuple[dict[str, str], dict[str, str], CfdiDocument]:
    gym = await make_gym(session)
    other = await make_second_gym(session)
    await make_fiscal_profile(session, settings, gym)
    member = await make_member(session, gym)
    await make_member_fiscal(session, member)
    await make_payment(session, member, 79900, "card")
    mine = auth_headers(settings.secret_key, await make_staff(session, gym))
    theirs = auth_headers(settings.secret_key, await make_staff(session, other))
    await session.commit()
    await sweep(sessionmaker, settings, clock=utcnow)
    document = await session.scalar(select(CfdiDocument))
    assert document is not None and document.status == "stamped"
    return mine, theirs, document


async def test_list_download_and_tenant_isolation(
    app_client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
) -> None:
    mine, theirs, document = await _stamped(sessionmaker, session, settings)
    listed = await app_client.get(
        "/api/v1/cfdi", headers=mine, params={"member_id": document.member_id}
    )
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["uuid"] == document.uuid and item["fiscally_valid"] is False
    period = utcnow().strftime("%Y-%m")
    assert (
        len((await app_client.get(f"/api/v1/cfdi?period={period}", headers=mine)).json()["items"])
        == 1
    )
    xml = await app_client.get(f"/api/v1/cfdi/{document.id}/xml", headers=mine)
    assert xml.status_code == 200 and document.uuid in xml.text
    assert xml.headers["x-fiscally-valid"] == "false"
    pdf = await app_client.get(f"/api/v1/cfdi/{document.id}/pdf", headers=mine)
    assert pdf.content[:4] == b"%PDF"
    # Another gym sees nothing and gets 404 for our ids.
    assert (await app_client.get("/api/v1/cfdi", headers=theirs)).json()["items"] == []
    for path in ("", "/xml", "/pdf"):
        assert (
            await app_client.get(f"/api/v1/cfdi/{document.id}{path}", headers=theirs)
        ).status_code == 404
    assert (
        await app_client.post(f"/api/v1/cfdi/{document.id}/resend", headers=theirs)
    ).status_code == 404
    cancel = await app_client.post(
        f"/api/v1/cfdi/{document.id}/cancel", headers=theirs, json={"motive": "02"}
    )
    assert cancel.status_code == 404


async def test_cancel_motives_and_resend(
    app_client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
) -> None:
    mine, _, document = await _stamped(sessionmaker, session, settings)
    resent = await app_client.post(f"/api/v1/cfdi/{document.id}/resend", headers=mine)
    assert resent.status_code == 200
    no_substitute = await app_client.post(
        f"/api/v1/cfdi/{document.id}/cancel", headers=mine, json={"motive": "01"}
    )
    assert no_substitute.status_code == 422
    assert "sustituye" in no_substitute.json()["error"]["message_es"]
    bad = await app_client.post(
        f"/api/v1/cfdi/{document.id}/cancel", headers=mine, json={"motive": "09"}
    )
    assert bad.status_code == 422
    done = await app_client.post(
        f"/api/v1/cfdi/{document.id}/cancel", headers=mine, json={"motive": "03"}
    )
    assert done.status_code == 200 and done.json()["status"] == "canceled"
    assert done.json()["cancel_motive"] == "03"


async def test_signed_media_links(
    app_client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
) -> None:
    _, _, document = await _stamped(sessionmaker, session, settings)
    url = urlsplit(signed_url(settings, document.id, "pdf", utcnow()))
    ok = await app_client.get(f"{url.path}?{url.query}")
    assert ok.status_code == 200 and ok.content[:4] == b"%PDF"
    forged = url.query.replace("sig=", "sig=0")
    assert (await app_client.get(f"{url.path}?{forged}")).status_code == 404
    expired = urlsplit(signed_url(settings, document.id, "xml", utcnow().replace(year=2020)))
    assert (await app_client.get(f"{expired.path}?{expired.query}")).status_code == 404
