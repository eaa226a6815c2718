"""SAT catalogs and the receiver rules CFDI 4.0 checks: RFC, name, régimen, CP, uso CFDI.

satcfdi ships SAT's catalogs (descriptions, every código postal) and the RFC check digit.
Which régimen fits which kind of person, and which uso CFDI fits which régimen, are columns
of SAT's c_RegimenFiscal and c_UsoCFDI (Anexo 20, catCFDI_V_4) that satcfdi does not carry,
so they are written out here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from satcfdi import catalogs as sat
from satcfdi.models.certificate import REGIMEN_SOCIETARIOS
from satcfdi.models.rfc import RFC, RFCType

PersonKind = Literal["fisica", "moral"]

PUBLIC_RFC = "XAXX010101000"  # RFC genérico nacional: público en general
FOREIGN_RFC = "XEXX010101000"
PUBLIC_NAME = "PUBLICO EN GENERAL"
PUBLIC_REGIMEN = "616"
PUBLIC_USO = "S01"

# c_RegimenFiscal: which kind of person may hold each régimen.
REGIMEN_PERSONS: dict[str, frozenset[str]] = {
    "601": frozenset({"moral"}),
    "603": frozenset({"moral"}),
    "605": frozenset({"fisica"}),
    "606": frozenset({"fisica"}),
    "607": frozenset({"fisica"}),
    "608": frozenset({"fisica"}),
    "610": frozenset({"fisica", "moral"}),
    "611": frozenset({"fisica"}),
    "612": frozenset({"fisica"}),
    "614": frozenset({"fisica"}),
    "615": frozenset({"fisica"}),
    "616": frozenset({"fisica"}),
    "620": frozenset({"moral"}),
    "621": frozenset({"fisica"}),
    "622": frozenset({"moral"}),
    "623": frozenset({"moral"}),
    "624": frozenset({"moral"}),
    "625": frozenset({"fisica"}),
    "626": frozenset({"fisica", "moral"}),
    "628": frozenset({"moral"}),
    "629": frozenset({"fisica"}),
    "630": frozenset({"fisica"}),
}
# The régimenes offered in the chat, most common first (610 needs a foreign tax id).
OFFERED_REGIMENES: dict[PersonKind, tuple[str, ...]] = {
    "fisica": ("612", "626", "605", "606", "625", "621", "616", "608"),
    "moral": ("601", "626", "603", "620", "622", "623", "624"),
}

_BUSINESS = frozenset({"601", "603", "606", "612", "620", "621", "622", "623", "624", "625", "626"})
_ALL = frozenset(REGIMEN_PERSONS) - {"610"}
# c_UsoCFDI: the receiver's régimenes each use admits (column "Régimen Fiscal Receptor").
USO_REGIMENES: dict[str, frozenset[str]] = {
    "G01": _BUSINESS,
    "G02": _BUSINESS,
    "G03": _BUSINESS,
    "S01": _ALL | {"610"},
    "CP01": _ALL | {"610"},
}
# What a gym membership can be used for: a business expense, or no tax effect at all. A
# gym is not a personal deduction (D01 covers medical and hospital fees only).
OFFERED_USOS = ("G03", "S01")


class FiscalDataError(ValueError):
    """Bad fiscal data; `field` says which (rfc, name, regimen, postal_code, uso_cfdi)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CheckedRfc:
    rfc: str
    person: PersonKind


_RFC_SHAPE = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}$")


def check_rfc(raw: str) -> CheckedRfc:
    """Format, date and check digit of a member's RFC; the generic RFCs are refused here
    (público en general goes to the factura global, foreigners are not served)."""
    rfc = re.sub(r"[\s-]", "", raw).upper()
    if not _RFC_SHAPE.match(rfc):
        raise FiscalDataError("rfc", "format")
    if rfc in (PUBLIC_RFC, FOREIGN_RFC):
        raise FiscalDataError("rfc", "generic")
    try:
        parsed = RFC(rfc)
    except ValueError:
        raise FiscalDataError("rfc", "format") from None
    if not parsed.is_valid():
        raise FiscalDataError("rfc", "check_digit")
    return CheckedRfc(rfc, "moral" if parsed.type == RFCType.MORAL else "fisica")


def person_kind(rfc: str) -> PersonKind:
    return "moral" if len(rfc) == 12 else "fisica"


# Longest first, so "SA DE CV" is removed rather than just "SA"... well, "DE CV" first.
_SUFFIXES = sorted(REGIMEN_SOCIETARIOS, key=len, reverse=True)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = []
    for i, ch in enumerate(decomposed):
        # Keep the tilde of Ñ: SAT writes names with Ñ but without accents.
        if unicodedata.combining(ch) and not (ch == "\u0303" and i and decomposed[i - 1] in "Nn"):
            continue
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def normalize_name(raw: str, person: PersonKind) -> str:
    """The name as CFDI 4.0 wants it: as in the Constancia, uppercase, without accents, and
    for a company without the company-type suffix ("SA DE CV")."""
    name = _strip_accents(raw).upper()
    name = re.sub(r"[\"“”]", "", name)
    name = re.sub(r"\s+", " ", name).strip(" ,.")
    if person == "moral":
        # "S.A. de C.V." → "SA DE CV" to compare, then drop it with the comma before it.
        plain = re.sub(r"(?<=\b[A-Z])\.", "", name)
        plain = re.sub(r"\s+", " ", plain).strip(" ,.")
        for suffix in _SUFFIXES:
            if plain.endswith(" " + suffix) or plain.endswith("," + suffix):
                plain = plain[: -len(suffix)].rstrip(" ,.")
                break
        name = plain
    if len(name) < 3 or not re.search(r"[A-ZÑ]", name):
        raise FiscalDataError("name", "too_short")
    if len(name) > 254:
        raise FiscalDataError("name", "too_long")
    if not re.fullmatch(r"[A-ZÑ0-9&.,'\- ]+", name):
        raise FiscalDataError("name", "characters")
    return name


def regimen_name(code: str) -> str:
    found = sat.select("C756_c_RegimenFiscal", code)
    return str(found) if found else code


def uso_name(code: str) -> str:
    found = sat.select("C756_c_UsoCFDI", code)
    return str(found) if found else code


def check_regimen(code: str, person: PersonKind) -> str:
    code = code.strip()
    if code not in REGIMEN_PERSONS:
        raise FiscalDataError("regimen", "unknown")
    if person not in REGIMEN_PERSONS[code]:
        raise FiscalDataError("regimen", "person")
    return code


def check_postal_code(raw: str) -> str:
    """A código postal that exists in SAT's c_CodigoPostal."""
    code = raw.strip()
    if not re.fullmatch(r"\d{5}", code):
        raise FiscalDataError("postal_code", "format")
    if sat.select("C756_c_CodigoPostal", code) is None:
        raise FiscalDataError("postal_code", "unknown")
    return code


def usos_for(regimen: str) -> tuple[str, ...]:
    """The usos CFDI offered to a receiver of this régimen, in the order shown."""
    return tuple(u for u in OFFERED_USOS if regimen in USO_REGIMENES[u])


def check_uso(code: str, regimen: str) -> str:
    code = code.strip().upper()
    if sat.select("C756_c_UsoCFDI", code) is None:
        raise FiscalDataError("uso_cfdi", "unknown")
    allowed = USO_REGIMENES.get(code)
    if allowed is None or regimen not in allowed:
        raise FiscalDataError("uso_cfdi", "regimen")
    return code


def forma_pago(method: str, card_type: str | None = None) -> str:
    """SAT c_FormaPago of a payment: 04 credit card (card of unknown type too), 28 debit
    card, 01 cash (OXXO is paid in cash), 03 SPEI transfer, 99 otherwise."""
    if method == "card":
        return "28" if card_type == "debit" else "04"
    return {"cash": "01", "oxxo": "01", "spei": "03"}.get(method, "99")
