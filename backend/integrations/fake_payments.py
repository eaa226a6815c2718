"""An in-process payment provider for unit tests and benchmarks.

It honours idempotency keys like a real provider (a repeated key returns the first result)
and declines cards whose id starts with `decline` so dunning paths can be exercised. Links,
vouchers, refunds and lookups are kept in memory; `approve`/`set_status` play the payer.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from backend.payments.provider import (
    ChargeRequest,
    ChargeResult,
    CheckoutLink,
    CheckoutRequest,
    OfflinePayment,
    OfflinePaymentRequest,
    PaymentSearch,
    ProviderPayment,
    ProviderRejected,
    RefundRequest,
    RefundResult,
    SaveCardRequest,
    SavedCard,
)


class FakePaymentProvider:
    name = "fake"

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.charges: dict[str, tuple[ChargeRequest, ChargeResult]] = {}
        self.payments: dict[str, ProviderPayment] = {}
        self._by_key: dict[str, Any] = {}

    def _now(self) -> datetime:
        return datetime.now(UTC)

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult:
        if request.idempotency_key in self.charges:
            return self.charges[request.idempotency_key][1]
        declined = request.card_id.startswith("decline")
        result = ChargeResult(
            provider_payment_id=f"fake-{next(self._ids)}",
            status="rejected" if declined else "approved",
            status_detail="cc_rejected_insufficient_amount" if declined else "accredited",
        )
        self.charges[request.idempotency_key] = (request, result)
        self.payments[result.provider_payment_id] = ProviderPayment(
            id=result.provider_payment_id,
            status=result.status,
            status_detail=result.status_detail,
            amount_cents=request.amount_cents,
            refunded_cents=0,
            currency="MXN",
            external_reference=request.external_reference,
            payment_type="credit_card",
            payment_method="visa",
            created_at=self._now(),
            approved_at=self._now() if result.status == "approved" else None,
        )
        return result

    @property
    def approved_total_cents(self) -> int:
        return sum(r.amount_cents for r, res in self.charges.values() if res.status == "approved")

    async def create_checkout_link(self, request: CheckoutRequest) -> CheckoutLink:
        if request.idempotency_key in self._by_key:
            link: CheckoutLink = self._by_key[request.idempotency_key]
            return link
        pref = f"fake-pref-{next(self._ids)}"
        link = CheckoutLink(pref, f"https://fake.invalid/checkout/{pref}", request.expires_at)
        self._by_key[request.idempotency_key] = link
        return link

    async def _offline(
        self, request: OfflinePaymentRequest, payment_type: str, method: str
    ) -> OfflinePayment:
        if request.idempotency_key in self._by_key:
            found: OfflinePayment = self._by_key[request.idempotency_key]
            return found
        pid = f"fake-{next(self._ids)}"
        voucher = OfflinePayment(
            provider_payment_id=pid,
            status="pending",
            reference=f"{next(self._ids):014d}",
            ticket_url=f"https://fake.invalid/ticket/{pid}",
            expires_at=request.expires_at,
            clabe="646180000000000000" if method == "clabe" else "",
            bank="STP" if method == "clabe" else "",
        )
        self._by_key[request.idempotency_key] = voucher
        self.payments[pid] = ProviderPayment(
            id=pid,
            status="pending",
            status_detail="pending_waiting_payment",
            amount_cents=request.amount_cents,
            refunded_cents=0,
            currency="MXN",
            external_reference=request.external_reference,
            payment_type=payment_type,
            payment_method=method,
            created_at=self._now(),
        )
        return voucher

    async def create_cash_payment(self, request: OfflinePaymentRequest) -> OfflinePayment:
        return await self._offline(request, "ticket", "oxxo")

    async def create_bank_transfer(self, request: OfflinePaymentRequest) -> OfflinePayment:
        return await self._offline(request, "bank_transfer", "clabe")

    async def cancel_payment(self, gym_id: int | None, provider_payment_id: str) -> None:
        found = self.payments.get(provider_payment_id)
        if found is not None and found.status in ("pending", "in_process"):
            self.payments[provider_payment_id] = replace(found, status="cancelled")

    async def get_payment(
        self, gym_id: int | None, provider_payment_id: str
    ) -> ProviderPayment | None:
        return self.payments.get(provider_payment_id)

    async def refund(self, request: RefundRequest) -> RefundResult:
        if request.idempotency_key in self._by_key:
            done: RefundResult = self._by_key[request.idempotency_key]
            return done
        found = self.payments.get(request.provider_payment_id)
        if found is None or found.status != "approved":
            raise ProviderRejected(400, "payment cannot be refunded")
        left = found.amount_cents - found.refunded_cents
        amount = left if request.amount_cents is None else request.amount_cents
        if amount <= 0 or amount > left:
            raise ProviderRejected(400, "invalid refund amount")
        refunded = found.refunded_cents + amount
        self.payments[found.id] = replace(
            found,
            refunded_cents=refunded,
            status="refunded" if refunded == found.amount_cents else found.status,
        )
        result = RefundResult(f"fake-refund-{next(self._ids)}", amount, "approved")
        self._by_key[request.idempotency_key] = result
        return result

    async def search_payments(self, search: PaymentSearch) -> list[ProviderPayment]:
        return [
            p
            for p in self.payments.values()
            if p.created_at is not None
            and search.created_from <= p.created_at < search.created_to
            and (search.external_reference in (None, p.external_reference))
        ][: search.limit]

    async def save_card(self, request: SaveCardRequest) -> SavedCard:
        customer = request.customer_id or f"fake-cus-{next(self._ids)}"
        return SavedCard(customer, f"fake-card-{next(self._ids)}", "visa", "4242", 12, 2030)

    def set_status(self, provider_payment_id: str, status: str, detail: str = "") -> None:
        """Play the payer (or the bank): move a payment to `status`."""
        found = self.payments[provider_payment_id]
        self.payments[provider_payment_id] = replace(
            found,
            status=status,
            status_detail=detail or found.status_detail,
            approved_at=self._now() if status == "approved" else found.approved_at,
        )
