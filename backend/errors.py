"""Domain errors carry their HTTP status and a bilingual message."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message_es: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_es = message_es
        self.message_en = message_en

    def as_json(self) -> dict[str, object]:
        return {
            "error": {"code": self.code, "message": {"es": self.message_es, "en": self.message_en}}
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
