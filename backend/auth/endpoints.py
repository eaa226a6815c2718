"""`/api/v1/auth`: login, refresh, logout, who am I, API keys and staff accounts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import get_session
from backend.auth import service
from backend.auth.dependencies import (
    Principal,
    authenticate,
    limit_auth_attempts,
    require,
    settings_of,
)
from backend.auth.passwords import generate_password
from backend.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    LoginRequest,
    Me,
    RefreshRequest,
    StaffCreate,
    StaffCreated,
    StaffOut,
    TokenPair,
)
from backend.db import transaction
from backend.errors import Unauthenticated
from backend.types import utcnow

router = APIRouter(prefix="/auth", tags=["auth"])

_REFRESH_REFUSED = {
    "invalid": ("Token de renovación inválido.", "Invalid refresh token."),
    "expired": ("Tu sesión expiró; inicia sesión de nuevo.", "Session expired; log in again."),
    "revoked": ("La sesión fue cerrada; inicia sesión de nuevo.", "Session ended; log in again."),
    "reused": (
        "Este token ya se usó; por seguridad cerramos la sesión. Inicia sesión de nuevo.",
        "This token was already used; the session was ended for safety. Log in again.",
    ),
    "inactive": ("Tu cuenta ya no está activa.", "This account is no longer active."),
}


def _pair(tokens: service.IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
    )


@router.post("/login", dependencies=[Depends(limit_auth_attempts)])
async def login(
    body: LoginRequest, request: Request, session: AsyncSession = Depends(get_session)
) -> TokenPair:
    """Email and password for a short-lived access JWT and a rotating refresh token."""
    tokens = await service.login(
        session, settings_of(request), body.email, body.password, body.gym, utcnow()
    )
    return _pair(tokens)


@router.post("/refresh", dependencies=[Depends(limit_auth_attempts)])
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """Spend a refresh token for a new pair. A token used twice ends its whole session."""
    # Its own transaction rather than `get_session`: a reused token's family must stay
    # revoked even though the answer is a 401, which would roll `get_session` back.
    async with transaction(request.app.state.sessionmaker) as session:
        outcome = await service.refresh(session, settings_of(request), body.refresh_token, utcnow())
    if outcome.tokens is None:
        reason = outcome.failure or "invalid"
        es, en = _REFRESH_REFUSED[reason]
        raise Unauthenticated(es, en, {"reason": reason})
    return _pair(outcome.tokens)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(limit_auth_attempts)],
)
async def logout(body: RefreshRequest, session: AsyncSession = Depends(get_session)) -> Response:
    """End the session the refresh token belongs to (every token of its family)."""
    await service.logout(session, body.refresh_token, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def me(principal: Principal = Depends(authenticate)) -> Me:
    return Me(
        gym_id=principal.gym_id,
        kind=principal.kind,
        subject_id=principal.subject_id,
        role=principal.role,
        permissions=sorted(principal.scopes),
    )


# --- API keys -----------------------------------------------------------------------------


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate,
    principal: Principal = Depends(require("api_keys:manage")),
    session: AsyncSession = Depends(get_session),
) -> ApiKeyCreated:
    """A new integration key; its secret is in this answer only."""
    key, secret = await service.create_api_key(
        session,
        principal.gym_id,
        principal.actor(),
        principal.subject_id if principal.kind == "staff" else None,
        body.name,
        body.scopes,
        utcnow(),
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.get("/api-keys")
async def list_api_keys(
    principal: Principal = Depends(require("api_keys:manage")),
    session: AsyncSession = Depends(get_session),
) -> list[ApiKeyOut]:
    keys = await service.list_api_keys(session, principal.gym_id)
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(
    key_id: int,
    principal: Principal = Depends(require("api_keys:manage")),
    session: AsyncSession = Depends(get_session),
) -> ApiKeyOut:
    key = await service.revoke_api_key(
        session, principal.gym_id, principal.actor(), key_id, utcnow()
    )
    return ApiKeyOut.model_validate(key)


# --- staff accounts -------------------------------------------------------------------------


@router.post("/staff", status_code=status.HTTP_201_CREATED)
async def create_staff(
    body: StaffCreate,
    principal: Principal = Depends(require("staff:manage")),
    session: AsyncSession = Depends(get_session),
) -> StaffCreated:
    """A staff account at the caller's gym; a generated password is returned once."""
    password = body.password or generate_password()
    user = await service.create_staff(
        session,
        principal.gym_id,
        principal.actor(),
        body.email,
        body.name,
        body.role,
        password,
        utcnow(),
    )
    shown = None if body.password else password
    return StaffCreated(**StaffOut.model_validate(user).model_dump(), password=shown)


@router.get("/staff")
async def list_staff(
    principal: Principal = Depends(require("staff:manage")),
    session: AsyncSession = Depends(get_session),
) -> list[StaffOut]:
    users = await service.list_staff(session, principal.gym_id)
    return [StaffOut.model_validate(u) for u in users]


@router.delete("/staff/{staff_user_id}")
async def deactivate_staff(
    staff_user_id: int,
    principal: Principal = Depends(require("staff:manage")),
    session: AsyncSession = Depends(get_session),
) -> StaffOut:
    """Deactivate an account; its sessions end at once."""
    user = await service.deactivate_staff(
        session, principal.gym_id, principal.subject_id, staff_user_id, utcnow()
    )
    return StaffOut.model_validate(user)
