"""An in-process payment provider for tests, benchmarks and the embedded demo.

It honours idempotency keys like a real provider (a repeated key returns the first result)
and declines cards whose id starts with `decline` so dunning paths can be exercised.
"""

from __future__ import annotations

import itertools

from backend.payments.provider import ChargeRequest, ChargeResult


class FakePaymentProvider:
    name = "fake"

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.charges: dict[str, tuple[ChargeRequest, ChargeResult]] = {}

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
        return result

    @property
    def approved_total_cents(self) -> int:
        return sum(r.amount_cents for r, res in self.charges.values() if res.status == "approved")
