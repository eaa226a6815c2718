"""A local stand-in for Mercado Pago's REST API, speaking its wire format.

Mounted at /simulator/mercadopago by the embedded demo (SIMULATE_PROVIDERS with no access
token): the real `MercadoPagoProvider` talks to it through the SDK, its Checkout Pro
"payment link" opens a local page whose *Pagar* button creates the payment and sends a
signed notification to our real webhook, and payment lookups are answered from here. The
tests run the same simulator on a loopback port as their fake server.

Endpoints: POST/GET /checkout/preferences, POST/GET/PUT /v1/payments, GET
/v1/payments/search, POST /v1/payments/{id}/refunds, POST /v1/card_tokens, POST
/v1/customers, GET /v1/customers/search, POST /v1/customers/{id}/cards. Repeated POSTs with
the same `X-Idempotency-Key` answer the first result, as Mercado Pago does.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from backend.integrations.mercadopago import centavos, sign_notification

PREFIX = "/simulator/mercadopago"
SIM_ACCESS_TOKEN = "TEST-0000000000000000-000000-simulated-gogym-demo-000000000"
SIM_WEBHOOK_SECRET = "gogym-simulated-webhook-secret"
SIM_USER_ID = "1234567890"


@dataclass
class Notification:
    """A webhook delivery as Mercado Pago sends it (kept for tests; posted when live)."""

    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Failure:
    status: int = 500
    delay: float = 0.0  # answer normally, but only after this long (a client timeout)


def _now() -> datetime:
    return datetime.now(UTC).astimezone()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _pesos(cents: int) -> float:
    return float(Decimal(cents) / 100)


def _error(status: int, message: str, error: str = "bad_request") -> JSONResponse:
    return JSONResponse(
        {"message": message, "error": error, "status": status, "cause": []}, status_code=status
    )


@dataclass
class MercadoPagoSimulator:
    # token → (user id, webhook secret): one entry per simulated seller account.
    accounts: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {SIM_ACCESS_TOKEN: (SIM_USER_ID, SIM_WEBHOOK_SECRET)}
    )
    # Where notifications go (our webhook) and where the member's browser reaches us.
    notification_url: str = ""
    public_url: str = ""
    deliver: bool = True
    preferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    card_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    requests_seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    _replays: dict[tuple[str, str, str], tuple[int, Any]] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(70_000_000_001))
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    # --- test and demo controls ---------------------------------------------------------

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """The next `times` API calls answer `status` without doing anything."""
        self._failures += [_Failure(status=status)] * times

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` API calls do their work but answer only after `seconds`."""
        self._failures += [_Failure(status=0, delay=seconds)] * times

    def set_status(self, payment_id: str, status: str, detail: str = "") -> dict[str, Any]:
        """Play the payer or the bank: move a payment to `status` (approved, rejected,
        cancelled, charged_back, refunded…)."""
        payment = self.payments[payment_id]
        payment["status"] = status
        payment["status_detail"] = detail or {
            "approved": "accredited",
            "rejected": "cc_rejected_other_reason",
            "cancelled": "expired",
            "charged_back": "settled",
            "refunded": "refunded",
        }.get(status, status)
        payment["date_last_updated"] = _iso(_now())
        if status == "approved":
            payment["date_approved"] = _iso(_now())
        if status == "refunded":
            payment["transaction_amount_refunded"] = payment["transaction_amount"]
        return payment

    def notification_for(
        self, payment_id: str | int, action: str = "payment.updated", ts: int | None = None
    ) -> Notification:
        """A correctly signed notification for a payment (not sent)."""
        payment_id = str(payment_id)
        payment = self.payments[payment_id]
        user_id = str(payment["collector_id"])
        secret = next(s for u, s in self.accounts.values() if u == user_id)
        request_id = str(uuid.uuid4())
        stamp = int(ts if ts is not None else _now().timestamp())
        body = {
            "action": action,
            "api_version": "v1",
            "data": {"id": payment_id},
            "date_created": _iso(_now()),
            "id": next(self._ids),
            "live_mode": False,
            "type": "payment",
            "user_id": int(user_id),
        }
        headers = {
            "x-signature": sign_notification(payment_id, request_id, secret, stamp),
            "x-request-id": request_id,
            "content-type": "application/json",
        }
        return Notification({"data.id": payment_id, "type": "payment"}, headers, body)

    def notify(self, payment_id: str | int, action: str = "payment.updated") -> Notification:
        note = self.notification_for(payment_id, action)
        self.notifications.append(note)
        if self.deliver and self.notification_url:
            task = asyncio.get_running_loop().create_task(self._post(note))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return note

    async def _post(self, note: Notification) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(3):  # Mercado Pago retries until it gets a 200/201
                try:
                    answer = await client.post(
                        self.notification_url,
                        params=note.query,
                        json=note.body,
                        headers=note.headers,
                    )
                    if answer.status_code in (200, 201):
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5 * (attempt + 1))

    # --- routing ------------------------------------------------------------------------

    def router(self) -> APIRouter:
        r = APIRouter(include_in_schema=False)
        r.add_api_route("/checkout/preferences", self._create_preference, methods=["POST"])
        r.add_api_route("/checkout/preferences/{pref_id}", self._get_preference, methods=["GET"])
        r.add_api_route("/checkout/{pref_id}", self._checkout_page, methods=["GET"])
        r.add_api_route("/checkout/{pref_id}/pay", self._checkout_pay, methods=["POST"])
        r.add_api_route("/tickets/{payment_id}", self._ticket_page, methods=["GET"])
        r.add_api_route("/tickets/{payment_id}/pay", self._ticket_pay, methods=["POST"])
        r.add_api_route("/v1/payments", self._create_payment, methods=["POST"])
        r.add_api_route("/v1/payments/search", self._search_payments, methods=["GET"])
        r.add_api_route("/v1/payments/{payment_id}", self._get_payment, methods=["GET"])
        r.add_api_route("/v1/payments/{payment_id}", self._update_payment, methods=["PUT"])
        r.add_api_route("/v1/payments/{payment_id}/refunds", self._refund, methods=["POST"])
        r.add_api_route("/v1/card_tokens", self._card_token, methods=["POST"])
        r.add_api_route("/v1/customers", self._create_customer, methods=["POST"])
        r.add_api_route("/v1/customers/search", self._search_customers, methods=["GET"])
        r.add_api_route("/v1/customers/{customer_id}/cards", self._save_card, methods=["POST"])
        return r

    async def _guard(self, request: Request) -> tuple[str | None, Response | None]:
        """(seller user id, early answer): auth, injected failures, idempotent replays."""
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        key = request.headers.get("x-idempotency-key")
        self.requests_seen.append((request.method, request.url.path, key))
        if token not in self.accounts:
            return None, _error(401, "invalid access token", "unauthorized")
        if self._failures:
            failure = self._failures.pop(0)
            if failure.status:
                return None, _error(failure.status, "internal error", "internal_error")
            request.state.delay = failure.delay
        if request.method == "POST" and key:
            replay = self._replays.get((token, request.url.path, key))
            if replay is not None:
                await self._maybe_delay(request)
                return None, JSONResponse(replay[1], status_code=replay[0])
        return self.accounts[token][0], None

    async def _maybe_delay(self, request: Request) -> None:
        delay = getattr(request.state, "delay", 0.0)
        if delay:
            await asyncio.sleep(delay)

    async def _answer(self, request: Request, status: int, body: Any) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = request.headers.get("x-idempotency-key")
        if request.method == "POST" and key and status < 300:
            self._replays[(token, request.url.path, key)] = (status, body)
        await self._maybe_delay(request)
        return JSONResponse(body, status_code=status)

    # --- preferences and the checkout page ------------------------------------------------

    async def _create_preference(self, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        data = await request.json()
        items = data.get("items") or []
        if not items or not all(i.get("unit_price", 0) > 0 for i in items):
            return _error(400, "items needed, with unit_price > 0", "invalid_items")
        pref_id = f"{user_id}-{uuid.uuid4()}"
        url = f"{self.public_url}/checkout/{pref_id}"
        pref = {
            **data,
            "id": pref_id,
            "collector_id": int(str(user_id)),
            "client_id": "6295877106812064",
            "date_created": _iso(_now()),
            "init_point": url,
            "sandbox_init_point": url,
            "operation_type": "regular_payment",
        }
        self.preferences[pref_id] = pref
        return await self._answer(request, 201, pref)

    async def _get_preference(self, pref_id: str, request: Request) -> Response:
        _, early = await self._guard(request)
        if early:
            return early
        pref = self.preferences.get(pref_id)
        if pref is None:
            return _error(404, "preference not found", "not_found")
        return await self._answer(request, 200, pref)

    async def _checkout_page(self, pref_id: str) -> Response:
        pref = self.preferences.get(pref_id)
        if pref is None:
            return HTMLResponse("<h1>Link no válido</h1>", status_code=404)
        total = sum(
            Decimal(str(i["unit_price"])) * int(i.get("quantity", 1)) for i in pref["items"]
        )
        title = html.escape(str(pref["items"][0].get("title", "")))
        return HTMLResponse(
            _page(
                "Mercado Pago (simulado)",
                f"<p>{title}</p><p class=amount>${total:,.2f} MXN</p>"
                f'<form method=post action="{self.public_url}/checkout/{pref_id}/pay">'
                "<input type=hidden name=outcome value=approved>"
                "<button>Pagar</button></form>"
                f'<form method=post action="{self.public_url}/checkout/{pref_id}/pay">'
                "<input type=hidden name=outcome value=rejected>"
                "<button class=secondary>Simular tarjeta rechazada</button></form>",
            )
        )

    async def _checkout_pay(self, pref_id: str, request: Request) -> Response:
        pref = self.preferences.get(pref_id)
        if pref is None:
            return HTMLResponse("<h1>Link no válido</h1>", status_code=404)
        form = await request.form()
        approved = form.get("outcome", "approved") != "rejected"
        payment = self.card_payment_for(pref_id, approved)
        self.notify(payment["id"], "payment.created")
        text = (
            "✅ ¡Pago aprobado! Ya puedes volver a WhatsApp."
            if approved
            else "❌ Tu tarjeta fue rechazada. Vuelve a WhatsApp para pagar en OXXO o SPEI."
        )
        return HTMLResponse(_page("Mercado Pago (simulado)", f"<p>{text}</p>"))

    def card_payment_for(self, pref_id: str, approved: bool = True) -> dict[str, Any]:
        """What paying a Checkout Pro link by card creates (tests call it directly too)."""
        pref = self.preferences[pref_id]
        amount = sum(
            Decimal(str(i["unit_price"])) * int(i.get("quantity", 1)) for i in pref["items"]
        )
        return self._new_payment(
            collector=str(pref["collector_id"]),
            amount=float(amount),
            description=str(pref["items"][0].get("title", "")),
            external_reference=str(pref.get("external_reference", "")),
            payment_type="credit_card",
            method="visa",
            status="approved" if approved else "rejected",
            detail="accredited" if approved else "cc_rejected_insufficient_amount",
            extra={"card": {"last_four_digits": "4242", "first_six_digits": "450995"}},
            preference_id=pref_id,
        )

    # --- payments -----------------------------------------------------------------------

    def _new_payment(
        self,
        *,
        collector: str,
        amount: float,
        description: str,
        external_reference: str,
        payment_type: str,
        method: str,
        status: str,
        detail: str,
        extra: dict[str, Any] | None = None,
        preference_id: str | None = None,
    ) -> dict[str, Any]:
        pid = str(next(self._ids))
        now = _now()
        payment: dict[str, Any] = {
            "id": int(pid),
            "date_created": _iso(now),
            "date_approved": _iso(now) if status == "approved" else None,
            "date_last_updated": _iso(now),
            "money_release_date": None,
            "operation_type": "regular_payment",
            "issuer_id": None,
            "payment_method_id": method,
            "payment_type_id": payment_type,
            "status": status,
            "status_detail": detail,
            "currency_id": "MXN",
            "description": description,
            "live_mode": False,
            "collector_id": int(collector),
            "external_reference": external_reference,
            "transaction_amount": amount,
            "transaction_amount_refunded": 0,
            "installments": 1,
            "transaction_details": {
                "net_received_amount": 0,
                "total_paid_amount": amount,
                "installment_amount": amount,
                "external_resource_url": None,
                "payment_method_reference_id": None,
                "financial_institution": None,
            },
            "refunds": [],
            "metadata": {"preference_id": preference_id} if preference_id else {},
            "card": {},
        }
        payment.update(extra or {})
        self.payments[pid] = payment
        return payment

    async def _create_payment(self, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        assert user_id is not None
        data = await request.json()
        amount = data.get("transaction_amount")
        if not isinstance(amount, int | float) or amount <= 0:
            return _error(400, "transaction_amount must be positive", "invalid_amount")
        method = data.get("payment_method_id")
        common: dict[str, Any] = {
            "collector": user_id,
            "amount": amount,
            "description": str(data.get("description", "")),
            "external_reference": str(data.get("external_reference", "")),
        }
        expires = data.get("date_of_expiration") or _iso(_now() + timedelta(days=3))
        if method == "oxxo":
            payment = self._new_payment(
                **common,
                payment_type="ticket",
                method="oxxo",
                status="pending",
                detail="pending_waiting_payment",
                extra={"date_of_expiration": expires},
            )
            reference = f"{secrets.randbelow(10**14):014d}"
            payment["barcode"] = {"content": reference}
            payment["transaction_details"]["payment_method_reference_id"] = reference
            payment["transaction_details"]["external_resource_url"] = (
                f"{self.public_url}/tickets/{payment['id']}"
            )
        elif method == "clabe":
            payment = self._new_payment(
                **common,
                payment_type="bank_transfer",
                method="clabe",
                status="pending",
                detail="pending_waiting_transfer",
                extra={"date_of_expiration": expires},
            )
            reference = f"{secrets.randbelow(10**7):07d}"
            clabe = "646180" + f"{secrets.randbelow(10**12):012d}"
            payment["payment_method"] = {
                "id": "clabe",
                "type": "bank_transfer",
                "data": {"reference_id": reference},
            }
            payment["transaction_details"].update(
                payment_method_reference_id=reference,
                financial_institution="STP",
                external_resource_url=f"{self.public_url}/tickets/{payment['id']}",
            )
            payment["point_of_interaction"] = {
                "type": "BANK_TRANSFER",
                "transaction_data": {
                    "bank_info": {"collector": {"account_id": clabe, "long_name": "STP"}}
                },
            }
        elif data.get("token"):
            token = self.card_tokens.get(str(data["token"]))
            if token is None:
                return _error(400, "invalid card token", "invalid_token")
            declined = str(token.get("card_id", "")).startswith("decline")
            payment = self._new_payment(
                **common,
                payment_type="credit_card",
                method=str(method or "visa"),
                status="rejected" if declined else "approved",
                detail="cc_rejected_insufficient_amount" if declined else "accredited",
                extra={"card": {"id": token.get("card_id"), "last_four_digits": "4242"}},
            )
        else:
            return _error(400, f"payment_method_id {method!r} not supported", "bad_request")
        return await self._answer(request, 201, payment)

    async def _get_payment(self, payment_id: str, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        payment = self.payments.get(payment_id)
        if payment is None or str(payment["collector_id"]) != user_id:
            return _error(404, "Payment not found", "not_found")
        return await self._answer(request, 200, payment)

    async def _update_payment(self, payment_id: str, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        payment = self.payments.get(payment_id)
        if payment is None or str(payment["collector_id"]) != user_id:
            return _error(404, "Payment not found", "not_found")
        data = await request.json()
        if data.get("status") == "cancelled":
            if payment["status"] not in ("pending", "in_process"):
                return _error(400, "only pending payments can be cancelled", "invalid_status")
            self.set_status(payment_id, "cancelled", "by_collector")
        return await self._answer(request, 200, payment)

    async def _search_payments(self, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        q = request.query_params
        found = [p for p in self.payments.values() if str(p["collector_id"]) == user_id]
        if q.get("external_reference"):
            found = [p for p in found if p["external_reference"] == q["external_reference"]]
        if q.get("begin_date") and q.get("end_date"):
            begin = datetime.fromisoformat(q["begin_date"])
            end = datetime.fromisoformat(q["end_date"])
            found = [p for p in found if begin <= datetime.fromisoformat(p["date_created"]) <= end]
        found.sort(key=lambda p: p["date_created"], reverse=q.get("criteria") == "desc")
        offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 30)), 1000)
        body = {
            "paging": {"total": len(found), "limit": limit, "offset": offset},
            "results": found[offset : offset + limit],
        }
        return await self._answer(request, 200, body)

    async def _refund(self, payment_id: str, request: Request) -> Response:
        user_id, early = await self._guard(request)
        if early:
            return early
        payment = self.payments.get(payment_id)
        if payment is None or str(payment["collector_id"]) != user_id:
            return _error(404, "Payment not found", "not_found")
        if payment["status"] != "approved":
            return _error(400, "Payment not refundable", "invalid_status")
        raw = await request.body()
        data = (await request.json()) if raw else {}
        total = centavos(payment["transaction_amount"])
        done = centavos(payment["transaction_amount_refunded"])
        amount = centavos(data["amount"]) if "amount" in data else total - done
        if amount <= 0 or amount > total - done:
            return _error(400, "invalid refund amount", "invalid_amount")
        payment["transaction_amount_refunded"] = _pesos(done + amount)
        if done + amount == total:
            payment["status"], payment["status_detail"] = "refunded", "refunded"
        else:
            payment["status_detail"] = "partially_refunded"
        refund = {
            "id": next(self._ids),
            "payment_id": int(payment_id),
            "amount": _pesos(amount),
            "status": "approved",
            "source": {"type": "collector"},
            "date_created": _iso(_now()),
        }
        payment["refunds"].append(refund)
        self.notify(payment_id, "payment.updated")
        return await self._answer(request, 201, refund)

    # --- customers and cards ------------------------------------------------------------

    async def _card_token(self, request: Request) -> Response:
        _, early = await self._guard(request)
        if early:
            return early
        data = await request.json()
        token = {
            "id": uuid.uuid4().hex,
            "card_id": data.get("card_id"),
            "status": "active",
            "date_created": _iso(_now()),
            "last_four_digits": "4242",
        }
        self.card_tokens[token["id"]] = token
        return await self._answer(request, 201, token)

    async def _create_customer(self, request: Request) -> Response:
        _, early = await self._guard(request)
        if early:
            return early
        data = await request.json()
        customer = {"id": f"{next(self._ids)}-sim", "email": data.get("email"), "cards": []}
        self.customers[customer["id"]] = customer
        return await self._answer(request, 201, customer)

    async def _search_customers(self, request: Request) -> Response:
        _, early = await self._guard(request)
        if early:
            return early
        email = request.query_params.get("email")
        found = [c for c in self.customers.values() if c["email"] == email]
        body = {"paging": {"total": len(found), "limit": 10, "offset": 0}, "results": found}
        return await self._answer(request, 200, body)

    async def _save_card(self, customer_id: str, request: Request) -> Response:
        _, early = await self._guard(request)
        if early:
            return early
        customer = self.customers.get(customer_id)
        if customer is None:
            return _error(404, "customer not found", "not_found")
        data = await request.json()
        token = str(data.get("token", ""))
        card = {
            "id": ("decline-" if token.startswith("decline") else "") + str(next(self._ids)),
            "customer_id": customer_id,
            "expiration_month": 12,
            "expiration_year": 2030,
            "first_six_digits": "450995",
            "last_four_digits": token[-4:] if token[-4:].isdigit() else "4242",
            "payment_method": {"id": "visa", "name": "Visa", "payment_type_id": "credit_card"},
            "date_created": _iso(_now()),
        }
        customer["cards"].append(card)
        return await self._answer(request, 201, card)

    # --- OXXO / SPEI "ticket" page (demo: pay the voucher) -----------------------------------

    async def _ticket_page(self, payment_id: str) -> Response:
        payment = self.payments.get(payment_id)
        if payment is None:
            return HTMLResponse("<h1>Ficha no válida</h1>", status_code=404)
        ref = html.escape(str(payment["transaction_details"].get("payment_method_reference_id")))
        kind = "OXXO" if payment["payment_method_id"] == "oxxo" else "SPEI"
        return HTMLResponse(
            _page(
                f"Ficha {kind} (simulada)",
                f"<p>Referencia: <b>{ref}</b></p>"
                f"<p class=amount>${payment['transaction_amount']:,.2f} MXN</p>"
                f"<p>Estado: {html.escape(payment['status'])}</p>"
                f'<form method=post action="{self.public_url}/tickets/{payment_id}/pay">'
                f"<button>Simular pago en {kind}</button></form>",
            )
        )

    async def _ticket_pay(self, payment_id: str) -> Response:
        payment = self.payments.get(payment_id)
        if payment is None or payment["status"] != "pending":
            return HTMLResponse(
                _page("Mercado Pago (simulado)", "<p>Esta ficha ya no se puede pagar.</p>")
            )
        self.set_status(payment_id, "approved")
        self.notify(payment_id, "payment.updated")
        return HTMLResponse(_page("Mercado Pago (simulado)", "<p>✅ Pago acreditado.</p>"))


def _page(title: str, content: str) -> str:
    return (
        "<!doctype html><html lang=es><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:28em;"
        "margin:2em auto;padding:0 1em}.amount{font-size:2em;font-weight:bold}button{"
        "background:#009ee3;color:#fff;border:0;border-radius:6px;padding:.8em 2em;"
        "font-size:1.1em;margin:.3em 0}button.secondary{background:#999}</style>"
        f"<h1>{html.escape(title)}</h1>{content}</html>"
    )
