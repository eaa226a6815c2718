"""Members: lookup by phone, prospects, the append-only event log and the audit trail."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym, Location
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.members.schemas import MemberCreate, MemberUpdate
from backend.phones import InvalidPhone, normalize_phone
from backend.types import utcnow


async def record_event(
    session: AsyncSession,
    gym_id: int,
    member_id: int,
    kind: str,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append to member_events (never updated; retention and journeys read it)."""
    await session.execute(
        insert(MemberEvent).values(
            gym_id=gym_id,
            member_id=member_id,
            kind=kind,
            data=data or {},
            occurred_at=at or utcnow(),
        )
    )


async def audit(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    data: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(AuditEntry).values(
            gym_id=gym_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data or {},
            created_at=utcnow(),
        )
    )


async def create_prospect(
    session: AsyncSession, gym: Gym, phone: str, address: str, locale: str, now: datetime
) -> Member:
    member = Member(
        gym_id=gym.id,
        phone=phone,
        whatsapp_address=address,
        locale=locale,
        status="prospect",
        created_at=now,
    )
    session.add(member)
    await session.flush()
    await record_event(session, gym.id, member.id, "prospect_created", {"channel": "whatsapp"}, now)
    await audit(
        session,
        gym.id,
        "system",
        "member.created",
        "member",
        member.id,
        {"status": "prospect", "source": "whatsapp"},
    )
    return member


# --- staff-facing CRUD (the REST API) ---------------------------------------------------------

# Fields whose new values go into the audit row; name and phone are personal data, so only
# the fact that they changed is kept.
_AUDITED_VALUES = ("locale", "status", "home_location_id", "marketing_opt_in", "biometrics_opt_in")
_PHONE_QUERY = re.compile(r"^[\d\s()+.-]+$")


async def create_member(
    session: AsyncSession, gym_id: int, actor: str, data: MemberCreate, now: datetime
) -> Member:
    """A member signed up by staff or an integration; the phone is unique per gym."""
    phone = _normalize(data.phone)
    await _check_location(session, gym_id, data.home_location_id)
    member = Member(
        gym_id=gym_id,
        phone=phone,
        name=data.name,
        locale=data.locale,
        status=data.status,
        home_location_id=data.home_location_id,
        marketing_opt_in=data.marketing_opt_in,
        marketing_opt_in_at=now if data.marketing_opt_in else None,
        biometrics_opt_in=data.biometrics_opt_in,
        biometrics_opt_in_at=now if data.biometrics_opt_in else None,
        created_at=now,
    )
    await _flush_unique_phone(session, gym_id, member)
    await record_event(
        session, gym_id, member.id, "member_created", {"source": actor.split(":")[0]}, now
    )
    await audit(
        session,
        gym_id,
        actor,
        "member.created",
        "member",
        member.id,
        {
            "status": member.status,
            "marketing_opt_in": member.marketing_opt_in,
            "biometrics_opt_in": member.biometrics_opt_in,
        },
    )
    return member


async def get_member(session: AsyncSession, gym_id: int, member_id: int) -> Member:
    """The gym's member; another gym's id is as unknown as a missing one."""
    member = await session.scalar(
        select(Member).where(Member.id == member_id, Member.gym_id == gym_id)
    )
    if member is None:
        raise NotFound("No existe ese socio.", "No such member.")
    return member


def search_members(gym_id: int, q: str | None, status: str | None) -> Select[tuple[Member]]:
    """The gym's members matching a name fragment or phone digits, and a status."""
    stmt = select(Member).where(Member.gym_id == gym_id)
    if status is not None:
        stmt = stmt.where(Member.status == status)
    q = (q or "").strip()
    if not q:
        return stmt
    digits = re.sub(r"\D", "", q)
    if _PHONE_QUERY.fullmatch(q) and len(digits) >= 3:
        # WhatsApp's +521 mobile prefix is stored folded to +52 (see backend.phones).
        if digits.startswith("521") and len(digits) == 13:
            digits = "52" + digits[3:]
        return stmt.where(Member.phone.contains(digits, autoescape=True))
    return stmt.where(func.lower(Member.name).contains(q.lower(), autoescape=True))


async def update_member(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    member_id: int,
    data: MemberUpdate,
    now: datetime,
) -> Member:
    member = await get_member(session, gym_id, member_id)
    sent = data.model_fields_set
    for required in ("phone", "locale", "status", "marketing_opt_in", "biometrics_opt_in"):
        if required in sent and getattr(data, required) is None:
            raise InvalidInput(
                f"El campo {required} no puede ser nulo.",
                f"The field {required} cannot be null.",
                {"field": required},
            )
    changes: dict[str, Any] = {}

    def change(field: str, value: Any) -> None:
        if getattr(member, field) != value:
            setattr(member, field, value)
            changes[field] = value

    if "phone" in sent and data.phone is not None:
        change("phone", _normalize(data.phone))
    if "name" in sent:
        change("name", data.name)
    if "locale" in sent:
        change("locale", data.locale)
    if "status" in sent:
        change("status", data.status)
    if "home_location_id" in sent:
        await _check_location(session, gym_id, data.home_location_id)
        change("home_location_id", data.home_location_id)
    for consent in ("marketing", "biometrics"):
        field = f"{consent}_opt_in"
        if field in sent and getattr(member, field) != getattr(data, field):
            change(field, getattr(data, field))
            setattr(member, f"{field}_at", now if getattr(data, field) else None)
    if not changes:
        return member
    await _flush_unique_phone(session, gym_id, member)
    await audit(
        session,
        gym_id,
        actor,
        "member.updated",
        "member",
        member.id,
        {
            "fields": sorted(changes),
            "values": {k: v for k, v in changes.items() if k in _AUDITED_VALUES},
        },
    )
    if "status" in changes:
        await record_event(
            session, gym_id, member.id, "status_changed", {"status": member.status}, now
        )
    return member


async def deactivate_member(
    session: AsyncSession, gym_id: int, actor: str, member_id: int, now: datetime
) -> Member:
    """The soft delete: the member stays (history, invoices) but is inactive."""
    member = await get_member(session, gym_id, member_id)
    if member.status == "inactive":
        return member
    previous = member.status
    member.status = "inactive"
    await session.flush()
    await record_event(session, gym_id, member.id, "member_deactivated", {}, now)
    await audit(
        session, gym_id, actor, "member.deactivated", "member", member.id, {"previous": previous}
    )
    return member


def _normalize(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise InvalidInput(
            "El teléfono no es válido.", "The phone number is not valid.", {"field": "phone"}
        ) from exc


async def _check_location(session: AsyncSession, gym_id: int, location_id: int | None) -> None:
    if location_id is None:
        return
    found = await session.scalar(
        select(Location.id).where(Location.id == location_id, Location.gym_id == gym_id)
    )
    if found is None:
        raise InvalidInput(
            "No existe esa sucursal.", "No such location.", {"field": "home_location_id"}
        )


async def _flush_unique_phone(session: AsyncSession, gym_id: int, member: Member) -> None:
    """Flush the member; a phone another member of the gym has is a 409."""
    stmt = select(Member.id).where(Member.gym_id == gym_id, Member.phone == member.phone)
    if member.id is not None:
        stmt = stmt.where(Member.id != member.id)
    taken = await session.scalar(stmt)
    if taken is not None:
        raise _phone_taken(taken)
    try:
        async with session.begin_nested():
            session.add(member)
    except IntegrityError as exc:  # a concurrent insert with the same phone
        raise _phone_taken(None) from exc


def _phone_taken(member_id: int | None) -> Conflict:
    return Conflict(
        "Ya hay un socio con ese teléfono.",
        "A member with that phone already exists.",
        {"field": "phone", "member_id": member_id},
    )
