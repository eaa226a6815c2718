"""The `PaymentProvider` port: charging a saved card. Adapters live in backend/integrations/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ChargeStatus = Literal["approved", "pending", "in_process", "rejected"]


@dataclass(frozen=True)
class ChargeRequest:
    amount_cents: int
    customer_id: str
    card_id: str
    description: str
    # Ours, per logical operation: the provider answers a repeat with the first result.
    idempotency_key: str
    external_reference: str


@dataclass(frozen=True)
class ChargeResult:
    provider_payment_id: str
    status: ChargeStatus
    status_detail: str = ""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered 5xx: safe to retry with the same key."""


class PaymentProvider(Protocol):
    name: str

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult: ...
