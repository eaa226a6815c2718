"""Who is calling: the `Principal` of a request and the `require(permission)` dependency.

Every `/api/v1` route but login and refresh takes
`principal: Principal = Depends(require("<permission>"))` and scopes its queries by
`principal.gym_id`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import get_session
from backend.auth import service
from backend.auth.permissions import PERMISSIONS, permissions_of
from backend.auth.ratelimit import RateLimiter, build_rate_limiter
from backend.auth.tokens import decode_access_token, is_api_key
from backend.errors import Forbidden, TooManyRequests, Unauthenticated
from backend.settings import Settings


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a staff user (by role) or a gym's API key (by scopes)."""

    gym_id: int
    kind: Literal["staff", "api_key"]
    subject_id: int
    role: str | None
    scopes: frozenset[str]

    def actor(self) -> str:
        """How audit rows name this caller: "staff:3", "api_key:7"."""
        return f"{self.kind}:{self.subject_id}"

    def can(self, permission: str) -> bool:
        return permission in self.scopes


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access JWT from `POST /api/v1/auth/login`, or an API key (`ggk_...`).",
)
_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="A gym API key (`ggk_...`), as an alternative to the Authorization header.",
)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def rate_limiter_of(app: FastAPI) -> RateLimiter:
    """The app's limiter; built on first use when the lifespan did not set one."""
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        limiter = build_rate_limiter(app.state.settings)
        app.state.rate_limiter = limiter
    return limiter


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit(request: Request, key: str, per_window: int) -> None:
    """Count one request against `key`; over `per_window` in the window it is a 429."""
    settings = settings_of(request)
    retry_after = await rate_limiter_of(request.app).hit(
        key, per_window, settings.rate_limit_window_seconds
    )
    if retry_after is not None:
        raise TooManyRequests(retry_after)


async def limit_auth_attempts(request: Request) -> None:
    """Login and refresh: a tighter per-IP budget against password guessing."""
    await limit(
        request, f"auth-ip:{client_ip(request)}", settings_of(request).rate_limit_auth_per_ip
    )


async def authenticate(
    request: Request,
    session: AsyncSession = Depends(get_session),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_api_key_header),
) -> Principal:
    """The caller behind the request's JWT or API key, rate-limited per IP and per caller."""
    settings = settings_of(request)
    await limit(request, f"ip:{client_ip(request)}", settings.rate_limit_per_ip)
    credential = bearer.credentials if bearer is not None else header_key
    if not credential:
        raise Unauthenticated(
            "Inicia sesión o envía una API key.",
            "Log in or send an API key.",
            {"reason": "missing_credentials"},
        )
    if is_api_key(credential):
        key = await service.find_api_key(session, credential)
        if key is None:
            raise Unauthenticated(
                "API key inválida o revocada.",
                "Invalid or revoked API key.",
                {"reason": "invalid_api_key"},
            )
        principal = Principal(key.gym_id, "api_key", key.id, None, frozenset(key.scopes))
    else:
        claims = decode_access_token(settings.secret_key, credential)
        user = await service.active_staff(session, claims.gym_id, claims.staff_user_id)
        if user is None:
            raise Unauthenticated(
                "Tu cuenta ya no está activa.",
                "This account is no longer active.",
                {"reason": "inactive_account"},
            )
        # The role is read from the database so a demotion applies to live tokens too.
        principal = Principal(user.gym_id, "staff", user.id, user.role, permissions_of(user.role))
    await limit(request, principal.actor(), settings.rate_limit_per_principal)
    return principal


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks it holds `permission`."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if not principal.can(permission):
            raise Forbidden(
                "No tienes permiso para hacer esto.",
                "You do not have permission to do this.",
                {"permission": permission},
            )
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency
