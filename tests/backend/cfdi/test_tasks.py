"""Issuing and stamping: every CFDI validates against the XSD, its Sello verifies over
the cadena original, and totals match the payment to the centavo; never twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.invoices import InvoiceDraft, LineDraft, issue_invoice
from backend.cfdi import document as doc
from backend.cfdi.globals import issue_global, last_closed_period
from backend.cfdi.issuing import issue_credit_note
from backend.cfdi.models import CfdiDocument, CfdiGlobalItem
from backend.cfdi.service import nominative_request
from backend.cfdi.stamping import stamp_locked
from backend.cfdi.tasks import sweep
from backend.messaging.models import OutboxMessage
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import (
    make_fiscal_profile,
    make_gym,
    make_member,
    make_member_fiscal,
    make_payment,
)


def check_document(document: CfdiDocument, total_cents: int) -> doc.CFDI:
    assert document.status == "stamped", document.last_error
    parsed = doc.parse(document.xml or "")
    doc.validate_xsd(parsed)  # raises on any schema error
    assert doc.seal_verifies(parsed)
    assert doc.stamp_uuid(parsed) == document.uuid
    assert parsed["Total"] == doc._pesos(total_cents)
    assert document.total_cents == total_cents
    return parsed


async def test_sweep_stamps_an_ingreso_per_payment(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    await make_fiscal_profile(session, settings, gym)
    member = await make_member(session, gym)
    await make_member_fiscal(session, member)
    draft = InvoiceDraft(
        member_id=member.id,
        reason="manual",
        due_at=utcnow(),
        lines=[
            LineDraft("plan", "Premium mensual", 79900),
            LineDraft("addon", "Toalla", 4999),
            LineDraft("discount", "Promo", -1000),
        ],
    )
    invoice = await issue_invoice(session, gym.id, "A", draft, utcnow())
    cash = await make_payment(session, member, invoice.total_cents, "cash", invoice)
    oxxo = await make_payment(session, member, 12345, "oxxo")
    spei = await make_payment(session, member, 50001, "spei")
    await session.commit()

    report = await sweep(sessionmaker, settings, clock=utcnow)
    assert report.claimed == 3 and report.stamped == 3
    again = await sweep(sessionmaker, settings, clock=utcnow)
    assert again.claimed == 0 and again.stamped == 0

    docs = {
        d.payment_id: d
        for d in (
            await session.scalars(select(CfdiDocument).execution_options(populate_existing=True))
        ).all()
    }
    parsed = check_document(docs[cash.id], invoice.total_cents)
    assert parsed["FormaPago"] == "01" and parsed["MetodoPago"] == "PUE"
    assert parsed["Receptor"]["Rfc"] == "XIQB891116QE4"
    concepts = parsed["Conceptos"]
    assert [c["ClaveProdServ"] for c in concepts] == ["91101501", "91101501"]
    assert all(c["ClaveUnidad"] == "E48" for c in concepts)
    assert sum(c.get("Descuento") or 0 for c in concepts) > 0  # the promo line
    assert check_document(docs[oxxo.id], 12345)["FormaPago"] == "01"
    assert check_document(docs[spei.id], 50001)["FormaPago"] == "03"
    assert docs[cash.id].simulated and docs[cash.id].pdf and docs[cash.id].pdf[:4] == b"%PDF"
    assert docs[cash.id].retain_until - docs[cash.id].stamped_at >= timedelta(days=5 * 365)
    sent = (await session.scalars(select(OutboxMessage))).all()
    assert len(sent) == 6 and all(m.media_url and "sig=" in m.media_url for m in sent)
    assert any("SIN validez fiscal" in m.body for m in sent)


async def test_totals_match_to_the_centavo_for_awkward_amounts(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    await make_fiscal_profile(session, settings, gym)
    member = await make_member(session, gym)
    await make_member_fiscal(session, member)
    amounts = [1, 17, 116, 49999, 79900, 123457]
    for amount in amounts:
        await make_payment(session, member, amount, "card")
    await session.commit()
    await sweep(sessionmaker, settings, clock=utcnow)
    for d in (await session.scalars(select(CfdiDocument))).all():
        parsed = doc.parse(d.xml or "")
        assert (
            parsed["SubTotal"] + parsed["Impuestos"]["TotalImpuestosTrasladados"] == parsed["Total"]
        )
        assert parsed["FormaPago"] == "04"
    totals = sorted(d.total_cents for d in (await session.scalars(select(CfdiDocument))).all())
    assert totals == sorted(amounts)


async def test_global_invoice_rules(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    await make_fiscal_profile(session, settings, gym)
    now = utcnow()
    period = last_closed_period(gym, "04", now)
    in_period = period.start + timedelta(days=3)
    walk_in = await make_member(session, gym, phone="+525500000001", name="Sin datos")
    with_data = await make_member(session, gym, phone="+525500000002", name="Con datos")
    await make_member_fiscal(session, with_data, created_at=in_period - timedelta(days=30))
    p1 = await make_payment(session, walk_in, 79900, "cash", applied_at=in_period)
    p2 = await make_payment(
        session, walk_in, 49900, "card", applied_at=in_period + timedelta(hours=1)
    )
    own = await make_payment(session, with_data, 79900, "card", applied_at=in_period)
    await session.commit()
    # The member with data gets their own CFDI; their ticket stays out of the global.
    await sweep(sessionmaker, settings, clock=lambda: now)
    general = await issue_global(session, settings, gym, period, now)
    assert general is not None
    assert await issue_global(session, settings, gym, period, now) is None  # once per period
    await stamp_locked(session, settings, general.id, now)
    parsed = check_document(general, 79900 + 49900)
    assert parsed["Receptor"]["Rfc"] == "XAXX010101000"
    assert parsed["Receptor"]["Nombre"] == "PUBLICO EN GENERAL"
    assert parsed["Receptor"]["RegimenFiscalReceptor"] == "616"
    assert parsed["Receptor"]["UsoCFDI"] == "S01"
    assert parsed["Receptor"]["DomicilioFiscalReceptor"] == parsed["LugarExpedicion"]
    info = parsed["InformacionGlobal"]
    assert info["Periodicidad"] == "04" and info["Meses"] == f"{period.start.month:02d}"
    assert [c["ClaveProdServ"] for c in parsed["Conceptos"]] == ["01010101", "01010101"]
    assert {c["NoIdentificacion"] for c in parsed["Conceptos"]} == {f"P-{p1.id}", f"P-{p2.id}"}
    assert all(
        c["ClaveUnidad"] == "ACT" and c["Descripcion"] == "Venta" for c in parsed["Conceptos"]
    )
    items = (await session.scalars(select(CfdiGlobalItem.payment_id))).all()
    assert sorted(items) == sorted([p1.id, p2.id]) and own.id not in items

    # The walk-in now gives fiscal data and asks: their ticket is in a stamped global.
    await make_member_fiscal(session, walk_in, created_at=now)
    outcome = await nominative_request(session, settings, gym, walk_in, now)
    assert not outcome.queued
    refused = sorted(p.id for p, _ in outcome.in_global)
    assert refused == sorted([p1.id, p2.id])
    assert all(g.id == general.id for _, g in outcome.in_global)


async def test_public_rfc_without_informacion_global_is_refused() -> None:
    issuer = doc.Party("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "06000")
    public = doc.Party("XAXX010101000", "PUBLICO EN GENERAL", "616", "06000", "S01")
    draft = doc.Draft(
        "I", "F", 1, utcnow().replace(tzinfo=None), "01", issuer, public, [doc.Line("Venta", 100)]
    )
    try:
        doc.build(draft)
    except doc.CfdiRuleError as exc:
        assert "InformacionGlobal" in str(exc)
    else:
        raise AssertionError("XAXX010101000 without InformacionGlobal was accepted")


async def test_refund_gets_a_credit_note_related_01(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    await make_fiscal_profile(session, settings, gym)
    member = await make_member(session, gym)
    await make_member_fiscal(session, member)
    payment = await make_payment(session, member, 79900, "card")
    await session.commit()
    await sweep(sessionmaker, settings, clock=utcnow)
    payment.status = "refunded"
    await session.commit()
    report = await sweep(sessionmaker, settings, clock=utcnow)
    assert report.credit_notes == 1
    egreso = await session.scalar(
        select(CfdiDocument)
        .where(CfdiDocument.kind == "E")
        .execution_options(populate_existing=True)
    )
    assert egreso is not None
    parsed = check_document(egreso, 79900)
    ingreso_uuid = await session.scalar(select(CfdiDocument.uuid).where(CfdiDocument.kind == "I"))
    assert parsed["TipoDeComprobante"] == "E"
    related = parsed["CfdiRelacionados"][0]
    assert related["TipoRelacion"] == "01"
    assert related["CfdiRelacionado"][0].upper() == ingreso_uuid
    assert await issue_credit_note(session, settings, payment.id, utcnow()) is None
    count = await session.scalar(select(func.count()).select_from(CfdiDocument))
    assert count == 2
