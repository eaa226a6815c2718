"""Staff login, refresh-token rotation with reuse detection, API keys and staff accounts.

Services take the session and never commit; the caller's transaction does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ApiKey, RefreshToken
from backend.auth.passwords import burn_verification, hash_password, verify_password
from backend.auth.permissions import API_KEY_SCOPES
from backend.auth.tokens import (
    API_KEY_DISPLAY_CHARS,
    digest,
    issue_access_token,
    new_api_key,
    new_family_id,
    new_refresh_token,
)
from backend.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from backend.gyms.models import STAFF_ROLES, Gym, StaffUser
from backend.members.service import audit
from backend.settings import Settings

# More accounts than this under one email (across gyms) is not a real case; the cap bounds
# the hashing work an anonymous login can cause.
MAX_LOGIN_CANDIDATES = 5


def invalid_credentials() -> Unauthenticated:
    # One answer for an unknown email, a wrong password and an inactive account, so the
    # API does not tell which accounts exist.
    return Unauthenticated(
        "Correo o contraseña incorrectos.",
        "Wrong email or password.",
        {"reason": "invalid_credentials"},
    )


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    staff_user_id: int
    gym_id: int
    role: str


RefreshFailure = Literal["invalid", "expired", "revoked", "reused", "inactive"]


@dataclass(frozen=True)
class RefreshOutcome:
    tokens: IssuedTokens | None
    failure: RefreshFailure | None = None


# --- lookups used on every request -----------------------------------------------------------


async def active_staff(session: AsyncSession, gym_id: int, staff_user_id: int) -> StaffUser | None:
    return await session.scalar(
        select(StaffUser).where(
            StaffUser.id == staff_user_id, StaffUser.gym_id == gym_id, StaffUser.active.is_(True)
        )
    )


async def find_api_key(session: AsyncSession, secret: str) -> ApiKey | None:
    """The live key whose secret this is; None for unknown or revoked keys."""
    return await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == digest(secret), ApiKey.revoked_at.is_(None))
    )


# --- login, refresh, logout -------------------------------------------------------------------


async def login(
    session: AsyncSession,
    settings: Settings,
    email: str,
    password: str,
    gym_slug: str | None,
    now: datetime,
) -> IssuedTokens:
    """Check an email and password and open a new refresh-token family.

    The same email may be staff at two gyms; the password picks the account, and when it
    matches more than one the caller must name the gym.
    """
    stmt = (
        select(StaffUser, Gym.slug)
        .join(Gym, Gym.id == StaffUser.gym_id)
        .where(func.lower(StaffUser.email) == email.strip().lower(), StaffUser.active.is_(True))
        .order_by(StaffUser.id)
        .limit(MAX_LOGIN_CANDIDATES)
    )
    if gym_slug is not None:
        stmt = stmt.where(Gym.slug == gym_slug)
    candidates = (await session.execute(stmt)).all()
    if not candidates:
        # Argon2 is deliberately slow: keep it off the event loop.
        await asyncio.to_thread(burn_verification, password)
        raise invalid_credentials()
    matches = [
        (user, slug)
        for user, slug in candidates
        if await asyncio.to_thread(verify_password, password, user.password_hash)
    ]
    if not matches:
        raise invalid_credentials()
    if len(matches) > 1:
        raise Conflict(
            "Tu cuenta existe en varios gimnasios; indica cuál.",
            "Your account exists at several gyms; say which one.",
            {"reason": "gym_required", "gyms": sorted(slug for _, slug in matches)},
        )
    user = matches[0][0]
    tokens = await _issue(session, settings, user, new_family_id(), now)
    await audit(session, user.gym_id, f"staff:{user.id}", "auth.login", "staff_user", user.id)
    return tokens


async def refresh(
    session: AsyncSession, settings: Settings, token: str, now: datetime
) -> RefreshOutcome:
    """Spend a refresh token for a new pair; a spent token presented again kills its family.

    Returns the failure instead of raising it: the caller commits the family's revocation
    before it answers 401.
    """
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is None:
        return RefreshOutcome(None, "invalid")
    if row.revoked_at is not None:
        return RefreshOutcome(None, "revoked")
    if row.rotated_at is not None:
        await _reuse_detected(session, row, now)
        return RefreshOutcome(None, "reused")
    if row.expires_at <= now:
        return RefreshOutcome(None, "expired")
    user = await active_staff(session, row.gym_id, row.staff_user_id)
    if user is None:
        await revoke_family(session, row.family_id, now)
        return RefreshOutcome(None, "inactive")
    # Claim the token atomically: of two concurrent refreshes with it, one wins and the
    # other is treated as reuse.
    claimed = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await _reuse_detected(session, row, now)
        return RefreshOutcome(None, "reused")
    return RefreshOutcome(await _issue(session, settings, user, row.family_id, now))


async def logout(session: AsyncSession, token: str, now: datetime) -> None:
    """Revoke the family of a refresh token; an unknown token is not an error."""
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is None:
        return
    await revoke_family(session, row.family_id, now)
    await audit(
        session,
        row.gym_id,
        f"staff:{row.staff_user_id}",
        "auth.logout",
        "staff_user",
        row.staff_user_id,
    )


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def _reuse_detected(session: AsyncSession, row: RefreshToken, now: datetime) -> None:
    await revoke_family(session, row.family_id, now)
    await audit(
        session,
        row.gym_id,
        "system",
        "auth.refresh_reuse",
        "staff_user",
        row.staff_user_id,
        {"family_id": row.family_id},
    )


async def _issue(
    session: AsyncSession, settings: Settings, user: StaffUser, family_id: str, now: datetime
) -> IssuedTokens:
    access_ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    refresh_ttl = timedelta(days=settings.refresh_token_ttl_days)
    secret = new_refresh_token()
    session.add(
        RefreshToken(
            gym_id=user.gym_id,
            staff_user_id=user.id,
            family_id=family_id,
            token_hash=digest(secret),
            created_at=now,
            expires_at=now + refresh_ttl,
        )
    )
    await session.flush()
    return IssuedTokens(
        access_token=issue_access_token(
            settings.secret_key, user.id, user.gym_id, user.role, now, access_ttl
        ),
        expires_in=int(access_ttl.total_seconds()),
        refresh_token=secret,
        refresh_expires_in=int(refresh_ttl.total_seconds()),
        staff_user_id=user.id,
        gym_id=user.gym_id,
        role=user.role,
    )


# --- API keys ----------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    created_by: int | None,
    name: str,
    scopes: Sequence[str],
    now: datetime,
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is returned this once and stored only hashed."""
    unknown = sorted(set(scopes) - API_KEY_SCOPES)
    if unknown or not scopes:
        raise InvalidInput(
            "Alcances no válidos para una API key.",
            "Scopes not valid for an API key.",
            {"field": "scopes", "invalid": unknown, "allowed": sorted(API_KEY_SCOPES)},
        )
    secret = new_api_key()
    key = ApiKey(
        gym_id=gym_id,
        name=name,
        prefix=secret[:API_KEY_DISPLAY_CHARS],
        key_hash=digest(secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "api_key.created",
        "api_key",
        key.id,
        {"name": name, "scopes": key.scopes},
    )
    return key, secret


async def list_api_keys(session: AsyncSession, gym_id: int) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.gym_id == gym_id).order_by(ApiKey.id.desc())
    )
    return list(rows.all())


async def revoke_api_key(
    session: AsyncSession, gym_id: int, actor: str, key_id: int, now: datetime
) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.gym_id == gym_id))
    if key is None:
        raise NotFound("No existe esa API key.", "No such API key.")
    if key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
        await audit(session, gym_id, actor, "api_key.revoked", "api_key", key.id)
    return key


# --- staff accounts ---------------------------------------------------------------------------


async def create_staff(
    session: AsyncSession,
    gym_id: int,
    actor: str,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
) -> StaffUser:
    if role not in STAFF_ROLES:
        raise InvalidInput(
            "Rol desconocido.", "Unknown role.", {"field": "role", "allowed": list(STAFF_ROLES)}
        )
    email = email.strip().lower()
    taken = await session.scalar(
        select(StaffUser.id).where(StaffUser.gym_id == gym_id, func.lower(StaffUser.email) == email)
    )
    if taken is not None:
        raise _email_taken()
    user = StaffUser(
        gym_id=gym_id,
        email=email,
        name=name,
        role=role,
        password_hash=await asyncio.to_thread(hash_password, password),
        active=True,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:  # a concurrent create with the same email
        raise _email_taken() from exc
    await audit(
        session,
        gym_id,
        actor,
        "staff.created",
        "staff_user",
        user.id,
        {"email": email, "role": role},
    )
    return user


def _email_taken() -> Conflict:
    return Conflict(
        "Ya hay una cuenta con ese correo.",
        "An account with that email already exists.",
        {"field": "email"},
    )


async def list_staff(session: AsyncSession, gym_id: int) -> list[StaffUser]:
    rows = await session.scalars(
        select(StaffUser).where(StaffUser.gym_id == gym_id).order_by(StaffUser.id)
    )
    return list(rows.all())


async def deactivate_staff(
    session: AsyncSession, gym_id: int, actor_id: int | None, staff_user_id: int, now: datetime
) -> StaffUser:
    """Lock an account out: no new logins, and its refresh tokens die at once."""
    user = await session.scalar(
        select(StaffUser).where(StaffUser.id == staff_user_id, StaffUser.gym_id == gym_id)
    )
    if user is None:
        raise NotFound("No existe esa cuenta.", "No such staff account.")
    if user.id == actor_id:
        raise Conflict(
            "No puedes desactivar tu propia cuenta.",
            "You cannot deactivate your own account.",
        )
    if user.active:
        user.active = False
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.staff_user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        actor = f"staff:{actor_id}" if actor_id is not None else "system"
        await audit(session, gym_id, actor, "staff.deactivated", "staff_user", user.id)
    return user
