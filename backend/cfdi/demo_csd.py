"""A self-made test CSD for the demo gym when CFDI_CSD_CER/KEY are not given.

Shaped like SAT's (RFC in x500UniqueIdentifier, name in O, the certificate number as the
serial's ASCII digits, an encrypted PKCS#8 key) so satcfdi signs with it, but issued by
nobody: CFDIs sealed with it are NOT fiscally valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from backend.cfdi.profile import Csd
from backend.settings import Settings

DEMO_RFC = "EKU9003173C9"  # SAT's public test RFC
DEMO_NAME = "ESCUELA KEMPER URGATE"
DEMO_PASSWORD = "12345678a"
_CERT_NUMBER = "30001000000500003456"


def make_test_csd(rfc: str = DEMO_RFC, name: str = DEMO_NAME) -> Csd:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, f"{rfc} / "),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "GoGym demo (sin validez)"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int("".join("3" + d for d in _CERT_NUMBER), 16))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=4 * 365))
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(DEMO_PASSWORD.encode()),
    )
    return Csd(cert.public_bytes(serialization.Encoding.DER), key_der, DEMO_PASSWORD)


def demo_csd(settings: Settings) -> Csd:
    """CFDI_CSD_CER/KEY/PASSWORD when given, else a self-made test CSD."""
    if settings.cfdi_csd_cer and settings.cfdi_csd_key:
        return Csd(
            Path(settings.cfdi_csd_cer).read_bytes(),
            Path(settings.cfdi_csd_key).read_bytes(),
            settings.cfdi_csd_password,
        )
    return make_test_csd()
