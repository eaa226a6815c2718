"""The `InvoiceStamper` port: how a signed CFDI gets its TimbreFiscalDigital from a PAC.

Adapters live in backend/integrations/pac_*.py (satcfdi's PAC clients, and a simulated
PAC for the demo and tests). They are blocking SDKs: adapters run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from satcfdi.models import Signer


@dataclass(frozen=True)
class Stamp:
    uuid: str
    xml: bytes  # the stamped CFDI, TimbreFiscalDigital included


@dataclass(frozen=True)
class Cancellation:
    # canceled: SAT shows it cancelled; pending: the receiver has to accept it first.
    status: Literal["canceled", "pending"]
    code: str
    acknowledgment: str | None = None


class PacUnavailable(Exception):
    """The PAC could not be reached or failed on its side (timeout, 5xx): retry later."""


class PacRejected(Exception):
    """The PAC refused the document or request (validation error): retrying won't help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


class InvoiceStamper(Protocol):
    provider: str
    # True for the simulated PAC: its stamps are NOT fiscally valid.
    simulated: bool

    async def stamp(self, signed_xml: bytes) -> Stamp: ...

    async def cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation: ...
