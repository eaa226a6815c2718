"""Members' fiscal data (the CFDI receiver), validated the way SAT validates it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cfdi.catalogs import (
    check_postal_code,
    check_regimen,
    check_rfc,
    check_uso,
    normalize_name,
)
from backend.cfdi.models import MemberFiscalProfile
from backend.members.service import audit


@dataclass(frozen=True)
class FiscalData:
    rfc: str
    legal_name: str
    regimen: str
    postal_code: str
    uso_cfdi: str


def validate(data: FiscalData) -> FiscalData:
    """The data as it will be stored; raises FiscalDataError naming the field to fix."""
    checked = check_rfc(data.rfc)
    name = normalize_name(data.legal_name, checked.person)
    regimen = check_regimen(data.regimen, checked.person)
    postal_code = check_postal_code(data.postal_code)
    uso = check_uso(data.uso_cfdi, regimen)
    return FiscalData(checked.rfc, name, regimen, postal_code, uso)


async def member_profile(
    session: AsyncSession, gym_id: int, member_id: int
) -> MemberFiscalProfile | None:
    return await session.scalar(
        select(MemberFiscalProfile).where(
            MemberFiscalProfile.gym_id == gym_id, MemberFiscalProfile.member_id == member_id
        )
    )


async def save_member_profile(
    session: AsyncSession,
    gym_id: int,
    member_id: int,
    data: FiscalData,
    *,
    actor: str,
    now: datetime,
) -> MemberFiscalProfile:
    """Create or replace a member's fiscal data (used for every later invoice)."""
    data = validate(data)
    profile = await member_profile(session, gym_id, member_id)
    created = profile is None
    if profile is None:
        profile = MemberFiscalProfile(gym_id=gym_id, member_id=member_id, created_at=now)
        session.add(profile)
    profile.rfc, profile.legal_name = data.rfc, data.legal_name
    profile.regimen, profile.postal_code, profile.uso_cfdi = (
        data.regimen,
        data.postal_code,
        data.uso_cfdi,
    )
    profile.updated_at = now
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "cfdi.fiscal_data_created" if created else "cfdi.fiscal_data_updated",
        "member",
        member_id,
        {"rfc": data.rfc, "regimen": data.regimen, "uso_cfdi": data.uso_cfdi},
    )
    return profile
