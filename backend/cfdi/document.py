"""Building, signing and checking a CFDI 4.0 with satcfdi.

satcfdi is this feature's document model (as `Invoice` is billing's): its `Comprobante`
computes the nodes SAT's XSD and cadena original expect, so CFDI XML and seals are never
written by hand. This module turns plain drafts (centavos, codes) into a signed Comprobante
and checks the SAT rules the XSD cannot express (Anexo 20 validations the PAC applies).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from satcfdi.cfdi import CFDI
from satcfdi.create.cfd import cfdi40
from satcfdi.models import Signer
from satcfdi.models.certificate import Certificate

from backend.billing.tax import split_iva
from backend.cfdi.catalogs import (
    PUBLIC_NAME,
    PUBLIC_REGIMEN,
    PUBLIC_RFC,
    PUBLIC_USO,
    REGIMEN_PERSONS,
    USO_REGIMENES,
    person_kind,
)

__all__ = ["CFDI", "Signer"]

GYM_SERVICE = "91101501"  # c_ClaveProdServ: Gimnasios o centros de salud
GYM_UNIT = "E48"  # c_ClaveUnidad: unidad de servicio
TICKET_PRODUCT = "01010101"  # "No existe en el catálogo": the factura global's concepts
TICKET_UNIT = "ACT"  # actividad
CREDIT_NOTE_PRODUCT = "84111506"  # Servicios de facturación: SAT's key for notas de crédito
IVA = "002"
IVA_RATE = Decimal("0.160000")
CENT = Decimal("0.01")


class CfdiRuleError(ValueError):
    """A SAT rule the document breaks (checked before it ever reaches the PAC)."""


@dataclass(frozen=True)
class Party:
    rfc: str
    name: str
    regimen: str
    postal_code: str
    uso_cfdi: str = ""


@dataclass(frozen=True)
class Line:
    """One concept; amounts in centavos, IVA included. `discount_cents` is taken off
    `amount_cents` (a discount line, balance credit)."""

    description: str
    amount_cents: int
    discount_cents: int = 0
    product: str = GYM_SERVICE
    unit: str = GYM_UNIT
    identification: str | None = None


@dataclass(frozen=True)
class GlobalPeriod:
    periodicity: str  # c_Periodicidad
    months: str  # c_Meses
    year: int


@dataclass(frozen=True)
class Draft:
    kind: str  # I | E
    series: str
    folio: int
    issued_at: datetime  # local time at the lugar de expedición, naive
    forma_pago: str
    issuer: Party
    receiver: Party
    lines: Sequence[Line]
    global_period: GlobalPeriod | None = None
    related_type: str | None = None  # c_TipoRelacion
    related_uuids: Sequence[str] = field(default_factory=tuple)


def _pesos(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


@dataclass(frozen=True)
class Amounts:
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int


def line_amounts(line: Line) -> tuple[int, int, int, int]:
    """(gross subtotal, discount, tax, total) of a line, so that the CFDI's total is the
    IVA-included amount to the centavo: subtotal and IVA are split from the net amount
    with billing's rounding, and the discount is what separates gross from net."""
    net = line.amount_cents - line.discount_cents
    gross_subtotal, _ = split_iva(line.amount_cents)
    net_subtotal, tax = split_iva(net)
    return gross_subtotal, gross_subtotal - net_subtotal, tax, net


def amounts(lines: Sequence[Line]) -> Amounts:
    parts = [line_amounts(line) for line in lines]
    return Amounts(*(sum(p[i] for p in parts) for i in range(4)))


def _concept(line: Line) -> cfdi40.Concepto:
    subtotal, discount, tax, _ = line_amounts(line)
    return cfdi40.Concepto(
        clave_prod_serv=line.product,
        cantidad=Decimal(1),
        clave_unidad=line.unit,
        descripcion=line.description[:1000],
        valor_unitario=_pesos(subtotal),
        no_identificacion=line.identification,
        descuento=_pesos(discount) if discount else None,
        objeto_imp="02",
        impuestos=cfdi40.Impuestos(
            traslados=cfdi40.Traslado(
                impuesto=IVA,
                tipo_factor="Tasa",
                tasa_o_cuota=IVA_RATE,
                base=_pesos(subtotal - discount),
                importe=_pesos(tax),
            )
        ),
    )


def build(draft: Draft) -> cfdi40.Comprobante:
    """The unsigned Comprobante of a draft (checked against SAT's rules first)."""
    check_rules(draft)
    receiver = draft.receiver
    related = None
    if draft.related_type and draft.related_uuids:
        related = cfdi40.CfdiRelacionados(
            tipo_relacion=draft.related_type, cfdi_relacionado=list(draft.related_uuids)
        )
    period = draft.global_period
    return cfdi40.Comprobante(
        emisor=cfdi40.Emisor(
            rfc=draft.issuer.rfc, nombre=draft.issuer.name, regimen_fiscal=draft.issuer.regimen
        ),
        lugar_expedicion=draft.issuer.postal_code,
        receptor=cfdi40.Receptor(
            rfc=receiver.rfc,
            nombre=receiver.name,
            domicilio_fiscal_receptor=receiver.postal_code,
            regimen_fiscal_receptor=receiver.regimen,
            uso_cfdi=receiver.uso_cfdi,
        ),
        conceptos=[_concept(line) for line in draft.lines],
        moneda="MXN",
        tipo_de_comprobante=draft.kind,
        exportacion="01",
        serie=draft.series,
        folio=str(draft.folio),
        forma_pago=draft.forma_pago,
        metodo_pago="PUE",
        informacion_global=(
            cfdi40.InformacionGlobal(
                periodicidad=period.periodicity, meses=period.months, ano=period.year
            )
            if period
            else None
        ),
        cfdi_relacionados=related,
        fecha=draft.issued_at.replace(microsecond=0, tzinfo=None),
    )


def build_and_sign(draft: Draft, signer: Signer) -> cfdi40.Comprobante:
    comprobante = build(draft)
    comprobante.sign(signer)
    return comprobante


def check_rules(draft: Draft) -> None:
    """SAT rules the XSD does not check (the PAC would reject the document later)."""
    receiver, issuer = draft.receiver, draft.issuer
    if not draft.lines:
        raise CfdiRuleError("a CFDI needs at least one concept")
    for line in draft.lines:
        if line.amount_cents <= 0 or not 0 <= line.discount_cents < line.amount_cents:
            raise CfdiRuleError(f"concept amounts must be positive: {line}")
    public = receiver.rfc == PUBLIC_RFC
    if public:
        # CFDI40145-CFDI40150: público en general carries InformacionGlobal, the generic
        # name, régimen 616, uso S01 and the lugar de expedición as its CP.
        if receiver.name != PUBLIC_NAME:
            raise CfdiRuleError("XAXX010101000 must be named PUBLICO EN GENERAL")
        if draft.global_period is None:
            raise CfdiRuleError("a CFDI to XAXX010101000 needs InformacionGlobal")
        if receiver.regimen != PUBLIC_REGIMEN or receiver.uso_cfdi != PUBLIC_USO:
            raise CfdiRuleError("XAXX010101000 takes régimen 616 and uso S01")
        if receiver.postal_code != issuer.postal_code:
            raise CfdiRuleError("XAXX010101000's CP must be the lugar de expedición")
    else:
        if draft.global_period is not None:
            raise CfdiRuleError("InformacionGlobal is only for XAXX010101000")
        person = person_kind(receiver.rfc)
        if person not in REGIMEN_PERSONS.get(receiver.regimen, frozenset()):
            raise CfdiRuleError(f"régimen {receiver.regimen} is not for a persona {person}")
        if receiver.regimen not in USO_REGIMENES.get(receiver.uso_cfdi, frozenset()):
            raise CfdiRuleError(f"uso {receiver.uso_cfdi} is not for régimen {receiver.regimen}")
    if draft.kind == "E" and not (draft.related_type and draft.related_uuids):
        raise CfdiRuleError("a credit note must relate the CFDI it credits")
    period = draft.global_period
    if period is not None:
        if period.periodicity == "05" and period.months not in {f"{m}" for m in range(13, 19)}:
            raise CfdiRuleError("bimonthly periods use months 13-18")
        if period.periodicity != "05" and not ("01" <= period.months <= "12"):
            raise CfdiRuleError("the period's month must be 01-12")


def validate_xsd(comprobante: CFDI) -> bytes:
    """The XML, validated against SAT's CFDI 4.0 schemas (≈250 ms: keep it off webhooks)."""
    return bytes(comprobante.xml_bytes(validate=True))


def xml_of(comprobante: CFDI) -> bytes:
    return bytes(comprobante.xml_bytes())


def parse(xml: bytes | str) -> CFDI:
    return CFDI.from_string(xml.encode() if isinstance(xml, str) else xml)


def seal_verifies(comprobante: CFDI) -> bool:
    """Does the Sello verify against the certificate it carries, over the cadena original?"""
    cert = Certificate.load_certificate(base64.b64decode(comprobante["Certificado"]))
    signature = base64.b64decode(comprobante["Sello"])
    return bool(cert.verify_sha256(comprobante.cadena_original().encode(), signature))


def stamp_uuid(comprobante: CFDI) -> str | None:
    timbre = (comprobante.get("Complemento") or {}).get("TimbreFiscalDigital")
    return str(timbre["UUID"]).upper() if timbre else None


@lru_cache(maxsize=64)
def load_signer(certificate_der: bytes, key_der: bytes, password: str) -> Signer:
    """A CSD ready to sign (cached: decrypting the key costs more than signing)."""
    return Signer.load(certificate=certificate_der, key=key_der, password=password)
