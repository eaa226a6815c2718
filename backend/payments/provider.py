"""The `PaymentProvider` port: payment links, OXXO vouchers, SPEI transfers, saved cards,
lookups, refunds and searches. Adapters live in backend/integrations/ (Mercado Pago, and an
in-memory fake for unit tests and benchmarks).

Every method names the gym (`gym_id`; None = the platform's default account) so an adapter
can use that gym's own credentials. Amounts are integer centavos (MXN). Every request that
creates something carries our own idempotency key: a retried call returns the first result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

ChargeStatus = Literal["approved", "pending", "in_process", "rejected"]
# What the provider says a payment is (Mercado Pago's `status` values we act on; others,
# like "authorized" or "in_mediation", are kept as they come and treated as pending).
ProviderStatus = str


@dataclass(frozen=True)
class ChargeRequest:
    amount_cents: int
    customer_id: str
    card_id: str
    description: str
    # Ours, per logical operation: the provider answers a repeat with the first result.
    idempotency_key: str
    external_reference: str
    gym_id: int | None = None
    payer_email: str | None = None
    brand: str = ""  # the provider's payment method id for the card (visa, master…)


@dataclass(frozen=True)
class ChargeResult:
    provider_payment_id: str
    status: ChargeStatus
    status_detail: str = ""


@dataclass(frozen=True)
class CheckoutRequest:
    """A hosted checkout (Mercado Pago Checkout Pro preference) for an amount."""

    gym_id: int | None
    amount_cents: int
    title: str
    external_reference: str
    idempotency_key: str
    expires_at: datetime
    payer_email: str | None = None
    back_url: str | None = None


@dataclass(frozen=True)
class CheckoutLink:
    preference_id: str
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class OfflinePaymentRequest:
    """Cash at OXXO or a SPEI bank transfer: paid later, outside our chat."""

    gym_id: int | None
    amount_cents: int
    description: str
    external_reference: str
    idempotency_key: str
    expires_at: datetime
    payer_email: str
    payer_first_name: str = ""
    payer_last_name: str = ""


@dataclass(frozen=True)
class OfflinePayment:
    """What the member needs to pay: the voucher/transfer reference and where to see it."""

    provider_payment_id: str
    status: ProviderStatus
    # OXXO: the voucher's payment reference (barcode); SPEI: the transfer reference.
    reference: str
    ticket_url: str
    expires_at: datetime | None
    # SPEI only: the CLABE to transfer to, and the receiving bank.
    clabe: str = ""
    bank: str = ""


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider reports it on lookup: the only version we trust."""

    id: str
    status: ProviderStatus
    status_detail: str
    amount_cents: int
    refunded_cents: int
    currency: str
    external_reference: str
    payment_type: str  # credit_card, debit_card, ticket, bank_transfer, account_money…
    payment_method: str  # visa, master, oxxo, clabe…
    created_at: datetime | None = None
    approved_at: datetime | None = None
    collector_id: str = ""
    card_last4: str = ""


@dataclass(frozen=True)
class RefundRequest:
    gym_id: int | None
    provider_payment_id: str
    # None: the whole (remaining) amount.
    amount_cents: int | None
    idempotency_key: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    amount_cents: int
    status: str


@dataclass(frozen=True)
class SaveCardRequest:
    """Attach a card token (made by the provider's browser SDK) to the member's customer."""

    gym_id: int | None
    email: str
    card_token: str
    idempotency_key: str
    customer_id: str | None = None


@dataclass(frozen=True)
class SavedCard:
    customer_id: str
    card_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    fingerprint: str | None = None


@dataclass(frozen=True)
class PaymentSearch:
    gym_id: int | None
    created_from: datetime
    created_to: datetime
    external_reference: str | None = None
    limit: int = 1000


@dataclass(frozen=True)
class MerchantAccount:
    """One gym's (or the platform default's) provider credentials, decrypted."""

    access_token: str
    webhook_secret: str
    user_id: str = ""  # the provider's account id (Mercado Pago `user_id` / collector)
    gym_id: int | None = None  # None: the default account from the environment
    public_key: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class CredentialSource(Protocol):
    """Where an adapter finds the access token for a gym (None: the default account)."""

    async def access_token(self, gym_id: int | None) -> str: ...


@dataclass(frozen=True)
class StaticCredentials:
    """One token for every gym (tests, benchmarks, a single-gym install)."""

    token: str

    async def access_token(self, gym_id: int | None) -> str:
        return self.token


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered 5xx: safe to retry with the same key."""


class ProviderRejected(Exception):
    """The provider refused the request (4xx): retrying the same request will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"[{status}] {message}")
        self.status = status
        self.message = message


class PaymentProvider(Protocol):
    name: str

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult: ...

    async def create_checkout_link(self, request: CheckoutRequest) -> CheckoutLink: ...

    async def create_cash_payment(self, request: OfflinePaymentRequest) -> OfflinePayment:
        """An OXXO voucher (Mercado Pago `payment_method_id="oxxo"`)."""
        ...

    async def create_bank_transfer(self, request: OfflinePaymentRequest) -> OfflinePayment:
        """A SPEI transfer to a CLABE (Mercado Pago `payment_method_id="clabe"`)."""
        ...

    async def cancel_payment(self, gym_id: int | None, provider_payment_id: str) -> None: ...

    async def get_payment(
        self, gym_id: int | None, provider_payment_id: str
    ) -> ProviderPayment | None: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...

    async def search_payments(self, search: PaymentSearch) -> list[ProviderPayment]: ...

    async def save_card(self, request: SaveCardRequest) -> SavedCard: ...
