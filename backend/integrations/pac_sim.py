"""The simulated PAC (PAC_PROVIDER=simulated): stamps locally, NOT fiscally valid.

It adds a real TimbreFiscalDigital 1.1, sealed by a test certificate made on the spot (its
OU names SAT's sandbox PAC RFC, as real PAC certificates do), whose Leyenda says the stamp
is simulated. SAT has never seen these UUIDs: every place that shows such a CFDI says so.
"""

from __future__ import annotations

import asyncio
import threading
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from satcfdi.cfdi import CFDI
from satcfdi.create.cfd.tfd11 import TimbreFiscalDigital
from satcfdi.models import Signer

from backend.cfdi.stamper import Cancellation, PacRejected, Stamp

SIMULATED_LEGEND = "TIMBRE SIMULADO - SIN VALIDEZ FISCAL"
# SAT's sandbox PAC RFC (used in Anexo 20's examples), never a real provider's.
SANDBOX_PAC_RFC = "SPR190613I52"
_CERT_NUMBER = "00001000000999999999"
MEXICO = ZoneInfo("America/Mexico_City")


@lru_cache(maxsize=1)
def simulated_pac_signer() -> Signer:
    """A self-signed 'PAC' certificate, made once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "GOGYM PAC SIMULADO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GOGYM PAC SIMULADO"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PAC" + SANDBOX_PAC_RFC),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        # SAT certificate numbers are the serial's ASCII digits.
        .serial_number(int("".join("3" + d for d in _CERT_NUMBER), 16))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"simulado"),
    )
    return Signer.load(cert.public_bytes(serialization.Encoding.DER), der_key, "simulado")


def add_timbre(signed_xml: bytes, when: datetime | None = None) -> Stamp:
    """Stamp a signed CFDI as a PAC would (sealed by the simulated PAC certificate)."""
    cfdi = CFDI.from_string(signed_xml)
    if not cfdi.get("Sello"):
        raise PacRejected("302", "Sello mal formado o inválido")
    fecha = (when or datetime.now(UTC)).astimezone(MEXICO).replace(tzinfo=None, microsecond=0)
    uuid = str(uuidlib.uuid4()).upper()
    timbre = TimbreFiscalDigital(
        proveedor=simulated_pac_signer(),
        uuid=uuid,
        fecha_timbrado=fecha,
        sello_cfd=cfdi["Sello"],
        leyenda=SIMULATED_LEGEND,
    )
    cfdi["Complemento"] = {"TimbreFiscalDigital": timbre}
    return Stamp(uuid=uuid, xml=bytes(cfdi.xml_bytes()))


class SimulatedStamper:
    """`InvoiceStamper` that stamps in-process. It remembers what it stamped (by the
    document's Sello) and answers a re-sent document with its first stamp, as PACs do."""

    provider = "simulated"
    simulated = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_seal: dict[str, Stamp] = {}
        self.stamp_calls = 0

    async def stamp(self, signed_xml: bytes) -> Stamp:
        return await asyncio.to_thread(self._stamp, signed_xml)

    def _stamp(self, signed_xml: bytes) -> Stamp:
        seal = str(CFDI.from_string(signed_xml).get("Sello") or "")
        with self._lock:
            self.stamp_calls += 1
            if seal in self._by_seal:
                return self._by_seal[seal]
            stamp = add_timbre(signed_xml)
            self._by_seal[seal] = stamp
            return stamp

    async def cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation:
        if motive == "01" and not substitute_uuid:
            raise PacRejected("CA2000", "El motivo 01 requiere el folio fiscal que sustituye")
        return Cancellation(status="canceled", code="201", acknowledgment=None)
