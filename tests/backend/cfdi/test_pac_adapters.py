"""The real PAC adapters (satcfdi's clients) against a local fake PAC speaking each
provider's wire format: stamping, duplicates, PAC down, timeouts, rejections, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from backend.cfdi import document as doc
from backend.cfdi.stamper import PacRejected, PacUnavailable
from backend.integrations.pac_diverza import DiverzaStamper
from backend.integrations.pac_fake import FakePac
from backend.integrations.pac_finkok import FinkokStamper
from backend.integrations.pac_swsapien import SWSapienStamper
from tests.conftest import LiveServer
from tests.factories import sat_test_csd


@pytest.fixture
def fake_pac() -> Iterator[tuple[FakePac, str]]:
    pac = FakePac(slow_seconds=1.5)
    with LiveServer(pac.app()) as server:
        yield pac, server.url


def signed_xml(total: int = 79900) -> bytes:
    cer, key, password = sat_test_csd()
    signer = doc.load_signer(cer, key, password)
    draft = doc.Draft(
        kind="I",
        series="F",
        folio=1,
        issued_at=datetime(2025, 1, 15, 10, 0, 0),
        forma_pago="04",
        issuer=doc.Party("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "06000"),
        receiver=doc.Party("XIQB891116QE4", "ANA LOPEZ", "612", "06600", "G03"),
        lines=[doc.Line("Membresía Premium", total)],
    )
    return doc.xml_of(doc.build_and_sign(draft, signer))


def stampers(url: str, timeout: float = 1.0) -> list[object]:
    return [
        FinkokStamper("user", "pass", production=False, base_url=url, timeout=timeout),
        SWSapienStamper(token="tok", production=False, base_url=url, timeout=timeout),
        DiverzaStamper(
            rfc="EKU9003173C9", client_id="id", token="tok", production=False,
            base_url=url, timeout=timeout,
        ),
    ]  # fmt: skip


async def test_each_adapter_stamps(fake_pac: tuple[FakePac, str]) -> None:
    pac, url = fake_pac
    for stamper in stampers(url):
        stamp = await stamper.stamp(signed_xml(79900 + len(pac.stamps)))  # type: ignore[attr-defined]
        parsed = doc.parse(stamp.xml)
        assert doc.stamp_uuid(parsed) == stamp.uuid
        assert doc.seal_verifies(parsed)
    assert pac.calls == ["finkok.stamp", "swsapien.stamp", "diverza.stamp"]


async def test_finkok_duplicate_returns_the_first_stamp(fake_pac: tuple[FakePac, str]) -> None:
    _, url = fake_pac
    finkok = FinkokStamper("user", "pass", production=False, base_url=url, timeout=2)
    xml = signed_xml()
    first = await finkok.stamp(xml)
    second = await finkok.stamp(xml)  # our answer was "lost": same document again
    assert second.uuid == first.uuid


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_down_and_timeouts_are_retryable(fake_pac: tuple[FakePac, str], index: int) -> None:
    pac, url = fake_pac
    stamper = stampers(url, timeout=0.5)[index]
    pac.fail_next("down")
    with pytest.raises(PacUnavailable):
        await stamper.stamp(signed_xml())  # type: ignore[attr-defined]
    pac.fail_next("slow")
    with pytest.raises(PacUnavailable):
        await stamper.stamp(signed_xml())  # type: ignore[attr-defined]


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_rejections_are_final(fake_pac: tuple[FakePac, str], index: int) -> None:
    pac, url = fake_pac
    stamper = stampers(url)[index]
    pac.fail_next("reject")
    with pytest.raises(PacRejected) as info:
        await stamper.stamp(signed_xml())  # type: ignore[attr-defined]
    assert "CFDI40145" in str(info.value)


async def test_unreachable_pac(tmp_path: object) -> None:
    finkok = FinkokStamper("u", "p", production=False, base_url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(PacUnavailable):
        await finkok.stamp(signed_xml())


async def test_cancel_through_finkok_and_sw(fake_pac: tuple[FakePac, str]) -> None:
    pac, url = fake_pac
    cer, key, password = sat_test_csd()
    signer = doc.load_signer(cer, key, password)
    finkok, sw, _ = stampers(url, timeout=2)
    stamp = await finkok.stamp(signed_xml())  # type: ignore[attr-defined]
    with pytest.raises(PacRejected):
        await finkok.cancel(stamp.xml, "01", None, signer)  # type: ignore[attr-defined]
    done = await finkok.cancel(stamp.xml, "02", None, signer)  # type: ignore[attr-defined]
    assert done.status == "canceled" and pac.canceled[stamp.uuid] == "02"
    other = await sw.stamp(signed_xml(50000))  # type: ignore[attr-defined]
    done = await sw.cancel(other.xml, "01", stamp.uuid, signer)  # type: ignore[attr-defined]
    assert done.status == "canceled" and pac.canceled[other.uuid] == "01"
