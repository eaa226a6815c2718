"""The gym's fiscal profile: issuer data, CSD (encrypted at rest) and PAC; and the stamper."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from satcfdi.exceptions import CFDIError
from satcfdi.models import Signer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cfdi.catalogs import (
    FiscalDataError,
    check_postal_code,
    check_regimen,
    person_kind,
)
from backend.cfdi.document import load_signer
from backend.cfdi.models import PAC_PROVIDERS, GymFiscalProfile
from backend.cfdi.stamper import InvoiceStamper
from backend.crypto import SecretBox
from backend.errors import InvalidInput, NotFound
from backend.integrations.pac_diverza import DiverzaStamper
from backend.integrations.pac_finkok import FinkokStamper
from backend.integrations.pac_sim import SimulatedStamper
from backend.integrations.pac_swsapien import SWSapienStamper
from backend.members.service import audit
from backend.settings import Settings

# One simulated PAC per process: it answers a re-sent document with its first stamp.
SIMULATED_PAC = SimulatedStamper()


@dataclass(frozen=True)
class Csd:
    certificate_der: bytes
    key_der: bytes
    password: str


def read_csd(certificate: bytes, key: bytes, password: str) -> Signer:
    """Load and check a CSD: the key opens with the password and matches the certificate."""
    try:
        return Signer.load(certificate=certificate, key=key, password=password)
    except (ValueError, TypeError, CFDIError) as exc:
        raise InvalidInput(
            "El CSD no es válido: revisa el .cer, el .key y su contraseña.",
            "The CSD is not valid: check the .cer, the .key and its password.",
            {"field": "csd"},
        ) from exc


def _seal(settings: Settings, secret: bytes) -> str:
    """Encrypt at rest (backend.crypto works on text: binary goes base64 first)."""
    return SecretBox.from_settings(settings).encrypt(base64.b64encode(secret).decode("ascii"))


def _open(settings: Settings, token: str) -> bytes:
    if not token:
        return b""
    return base64.b64decode(SecretBox.from_settings(settings).decrypt(token))


async def get_profile(session: AsyncSession, gym_id: int) -> GymFiscalProfile | None:
    return await session.get(GymFiscalProfile, gym_id)


async def require_profile(session: AsyncSession, gym_id: int) -> GymFiscalProfile:
    profile = await get_profile(session, gym_id)
    if profile is None or not profile.csd_certificate:
        raise NotFound(
            "El gimnasio aún no tiene sus datos fiscales ni su CSD.",
            "The gym has no fiscal profile or CSD yet.",
        )
    return profile


async def save_profile(
    session: AsyncSession,
    settings: Settings,
    gym_id: int,
    *,
    rfc: str,
    legal_name: str,
    regimen: str,
    postal_code: str,
    series: str = "F",
    global_periodicity: str = "04",
    pac_provider: str = "simulated",
    pac_environment: str = "test",
    pac_credentials: dict[str, str] | None = None,
    csd: Csd | None = None,
    actor: str,
) -> GymFiscalProfile:
    """Create or update the gym's issuer data; a CSD given must belong to that RFC."""
    rfc = rfc.strip().upper()
    try:
        check_regimen(regimen, person_kind(rfc))
        check_postal_code(postal_code)
    except FiscalDataError as exc:
        raise InvalidInput(
            f"Dato fiscal inválido: {exc.field}.",
            f"Invalid fiscal data: {exc.field}.",
            {"field": exc.field, "reason": exc.reason},
        ) from exc
    if pac_provider not in PAC_PROVIDERS:
        raise InvalidInput("PAC desconocido.", "Unknown PAC.", {"field": "pac_provider"})
    profile = await get_profile(session, gym_id)
    if profile is None:
        profile = GymFiscalProfile(gym_id=gym_id, next_folio=1)
        session.add(profile)
    profile.rfc, profile.legal_name = rfc, legal_name.strip().upper()
    profile.regimen, profile.postal_code = regimen, postal_code
    profile.series, profile.global_periodicity = series, global_periodicity
    profile.pac_provider, profile.pac_environment = pac_provider, pac_environment
    if pac_credentials is not None:
        profile.pac_credentials_encrypted = _seal(settings, json.dumps(pac_credentials).encode())
    if csd is not None:
        signer = read_csd(csd.certificate_der, csd.key_der, csd.password)
        if str(signer.rfc) != rfc:
            raise InvalidInput(
                f"El CSD es del RFC {signer.rfc}, no de {rfc}.",
                f"The CSD belongs to RFC {signer.rfc}, not {rfc}.",
                {"field": "csd"},
            )
        profile.csd_certificate = base64.b64encode(csd.certificate_der).decode()
        profile.csd_key_encrypted = _seal(settings, csd.key_der)
        profile.csd_password_encrypted = _seal(settings, csd.password.encode())
        profile.csd_number = signer.certificate_number
        valid_until = signer.certificate.get_notAfter()
        if valid_until:
            profile.csd_valid_until = datetime.strptime(
                valid_until.decode(), "%Y%m%d%H%M%SZ"
            ).replace(tzinfo=UTC)
    await session.flush()
    await audit(session, gym_id, actor, "cfdi.profile_saved", "gym", gym_id, {"rfc": rfc})
    return profile


def signer_of(settings: Settings, profile: GymFiscalProfile) -> Signer:
    if not (profile.csd_certificate and profile.csd_key_encrypted):
        raise NotFound("El gimnasio no tiene CSD.", "The gym has no CSD.")
    password = _open(settings, profile.csd_password_encrypted or "") or b""
    return load_signer(
        base64.b64decode(profile.csd_certificate),
        _open(settings, profile.csd_key_encrypted),
        password.decode(),
    )


def _credentials(settings: Settings, profile: GymFiscalProfile) -> dict[str, str]:
    if not profile.pac_credentials_encrypted:
        return {}
    return dict(json.loads(_open(settings, profile.pac_credentials_encrypted)))


def stamper_for(settings: Settings, profile: GymFiscalProfile) -> InvoiceStamper:
    """The gym's PAC; its host is PAC_BASE_URL when set (a local fake in tests)."""
    creds = _credentials(settings, profile)
    production = profile.pac_environment == "production"
    common = {"base_url": settings.pac_base_url, "timeout": settings.pac_timeout_seconds}
    match profile.pac_provider:
        case "finkok":
            return FinkokStamper(
                creds.get("username", ""),
                creds.get("password", ""),
                production=production,
                **common,  # type: ignore[arg-type]
            )
        case "swsapien":
            return SWSapienStamper(
                token=creds.get("token", ""),
                user=creds.get("username", ""),
                password=creds.get("password", ""),
                production=production,
                **common,  # type: ignore[arg-type]
            )
        case "diverza":
            return DiverzaStamper(
                rfc=profile.rfc,
                client_id=creds.get("username", ""),
                token=creds.get("token", ""),
                production=production,
                **common,  # type: ignore[arg-type]
            )
    return SIMULATED_PAC


async def take_folio(session: AsyncSession, gym_id: int) -> int:
    """The next folio of the gym's CFDIs; the profile row stays locked until commit."""
    end = await session.scalar(
        update(GymFiscalProfile)
        .where(GymFiscalProfile.gym_id == gym_id)
        .values(next_folio=GymFiscalProfile.next_folio + 1)
        .returning(GymFiscalProfile.next_folio)
    )
    assert end is not None
    return int(end) - 1


async def profiles_with_csd(session: AsyncSession) -> list[GymFiscalProfile]:
    rows = await session.scalars(
        select(GymFiscalProfile).where(GymFiscalProfile.csd_certificate.is_not(None))
    )
    return list(rows.all())
