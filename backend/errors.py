"""Domain errors carry their HTTP status and a bilingual message."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message_es: str, message_en: str, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message_en)
        self.message_es = message_es
        self.message_en = message_en
        self.details = details or {}

    def as_json(self) -> dict[str, object]:
        return error_body(self.code, self.message_es, self.message_en, self.details)

    @property
    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the answer carries (Retry-After, WWW-Authenticate)."""
        return {}


def error_body(
    code: str, message_es: str, message_en: str, details: dict[str, object] | None = None
) -> dict[str, object]:
    """The one error shape every API answer uses."""
    return {
        "error": {
            "code": code,
            "message_es": message_es,
            "message_en": message_en,
            "details": details or {},
        }
    }


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Unauthenticated(Unauthorized):
    """No valid credentials: tells the client how to authenticate."""

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Demasiadas solicitudes; inténtalo de nuevo en {retry_after} s.",
            f"Too many requests; try again in {retry_after} s.",
            {"retry_after": retry_after},
        )
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
