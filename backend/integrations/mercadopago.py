"""Mercado Pago adapter on the official `mercadopago` SDK, and its webhook signatures.

- The SDK's API host is fixed; `RedirectingHttpClient` (a subclass of the SDK's
  `HttpClient`) sends calls to MERCADOPAGO_API_BASE_URL instead when it is set, so tests
  and the demo reach the local simulator through the same code.
- The SDK puts a random `x-idempotency-key` on every request; we pass our own per logical
  operation (`RequestOptions(custom_headers=...)`) and retry 5xx, 429 and timeouts with the
  SAME key, so a retried request can never charge twice.
- The SDK is blocking (requests): every call runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import mercadopago
import requests
from mercadopago.config import RequestOptions
from mercadopago.http import HttpClient
from mercadopago.webhook.validator import InvalidWebhookSignatureError, WebhookSignatureValidator

from backend.payments.provider import (
    ChargeRequest,
    ChargeResult,
    CheckoutLink,
    CheckoutRequest,
    CredentialSource,
    OfflinePayment,
    OfflinePaymentRequest,
    PaymentSearch,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    RefundRequest,
    RefundResult,
    SaveCardRequest,
    SavedCard,
)

log = logging.getLogger(__name__)

MP_API = "https://api.mercadopago.com"
# The SDK checks its own idempotency header spelling; ours must replace it, not sit beside it.
IDEMPOTENCY_HEADER = "x-idempotency-key"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SEARCH_PAGE = 100
CHARGE_STATUSES = ("approved", "pending", "in_process", "rejected")


class RedirectingHttpClient(HttpClient):
    """The SDK's transport, pointed at `base_url` (when set), with our own timeout and no
    hidden retries: retries are ours, with a stable idempotency key."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def request(
        self,
        method: str,
        url: str,
        maxretries: int | None = None,
        retry_on: Any = None,
        backoff_factor: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if self._base_url and url.startswith(MP_API):
            url = self._base_url + url[len(MP_API) :]
        kwargs["timeout"] = self._timeout
        response = self._session().request(method, url, **kwargs)
        body: Any = None
        if response.status_code != 204 and response.content:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text[:200], "error": "invalid_json"}
        return {"status": response.status_code, "response": body}


def pesos(cents: int) -> int | float:
    """Centavos → the JSON number Mercado Pago expects. Exact: the value has at most two
    decimals, and a whole amount goes as an integer."""
    if cents % 100 == 0:
        return cents // 100
    return float(Decimal(cents) / 100)


def centavos(value: Any) -> int:
    """A Mercado Pago amount (JSON number) → integer centavos, via Decimal (never float
    arithmetic)."""
    if value is None:
        return 0
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def mp_datetime(value: datetime) -> str:
    """Mercado Pago's timestamp format: ISO 8601 with milliseconds and offset."""
    return value.isoformat(timespec="milliseconds")


def parse_datetime(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def to_provider_payment(body: dict[str, Any]) -> ProviderPayment:
    refunded = body.get("transaction_amount_refunded")
    return ProviderPayment(
        id=str(body.get("id", "")),
        status=str(body.get("status", "")),
        status_detail=str(body.get("status_detail") or ""),
        amount_cents=centavos(body.get("transaction_amount")),
        refunded_cents=centavos(refunded),
        currency=str(body.get("currency_id") or ""),
        external_reference=str(body.get("external_reference") or ""),
        payment_type=str(body.get("payment_type_id") or ""),
        payment_method=str(body.get("payment_method_id") or ""),
        created_at=parse_datetime(body.get("date_created")),
        approved_at=parse_datetime(body.get("date_approved")),
        collector_id=str(body.get("collector_id") or ""),
        card_last4=str(_dig(body, "card", "last_four_digits") or ""),
    )


class MercadoPagoProvider:
    """`PaymentProvider` on Mercado Pago (Checkout Pro, Payments API, Customers & Cards)."""

    name = "mercadopago"

    def __init__(
        self,
        credentials: CredentialSource,
        base_url: str = "",
        timeout: float = 5.0,
        max_retries: int = 2,
        backoff_seconds: float = 0.2,
    ) -> None:
        self._credentials = credentials
        self._http = RedirectingHttpClient(base_url, timeout)
        self._timeout = float(timeout)
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._sdks: dict[str, mercadopago.SDK] = {}

    # --- plumbing -----------------------------------------------------------------------

    def _sdk(self, token: str) -> mercadopago.SDK:
        sdk = self._sdks.get(token)
        if sdk is None:
            sdk = mercadopago.SDK(token, http_client=self._http)
            self._sdks[token] = sdk
        return sdk

    async def _call(
        self,
        gym_id: int | None,
        what: str,
        op: Callable[[mercadopago.SDK, RequestOptions], Any],
        key: str | None = None,
        not_found_ok: bool = False,
    ) -> Any:
        token = await self._credentials.access_token(gym_id)
        if not token:
            raise ProviderRejected(401, "no Mercado Pago access token configured")
        return await asyncio.to_thread(self._call_sync, token, what, op, key, not_found_ok)

    def _call_sync(
        self,
        token: str,
        what: str,
        op: Callable[[mercadopago.SDK, RequestOptions], Any],
        key: str | None,
        not_found_ok: bool,
    ) -> Any:
        sdk = self._sdk(token)
        headers = {IDEMPOTENCY_HEADER: key} if key else None
        problem = ""
        for attempt in range(self._max_retries + 1):
            if attempt:
                time.sleep(self._backoff * (2 ** (attempt - 1)))
            options = RequestOptions(
                access_token=token,
                connection_timeout=self._timeout,
                custom_headers=headers,
                max_retries=0,
            )
            try:
                result = op(sdk, options)
            except requests.RequestException as exc:  # timeouts, refused connections
                problem = f"{type(exc).__name__}: {exc}"
                log.warning("mercadopago %s attempt %d failed: %s", what, attempt + 1, problem)
                continue
            status = int(result["status"])
            body = result.get("response")
            if status in RETRY_STATUSES:
                problem = f"HTTP {status}"
                log.warning("mercadopago %s attempt %d: HTTP %d", what, attempt + 1, status)
                continue
            if status == 404 and not_found_ok:
                return None
            if status >= 400:
                message = body.get("message", "") if isinstance(body, dict) else ""
                raise ProviderRejected(status, f"{what}: {message}")
            return body
        raise ProviderUnavailable(f"mercadopago {what}: {problem}")

    # --- the port -------------------------------------------------------------------------

    async def create_checkout_link(self, request: CheckoutRequest) -> CheckoutLink:
        body: dict[str, Any] = {
            "items": [
                {
                    "id": request.external_reference,
                    "title": request.title[:250],
                    "quantity": 1,
                    "unit_price": pesos(request.amount_cents),
                    "currency_id": "MXN",
                }
            ],
            "external_reference": request.external_reference,
            "expires": True,
            "expiration_date_to": mp_datetime(request.expires_at),
            "statement_descriptor": "GOGYM",
        }
        if request.payer_email:
            body["payer"] = {"email": request.payer_email}
        if request.back_url:
            body["back_urls"] = {k: request.back_url for k in ("success", "pending", "failure")}
        created = await self._call(
            request.gym_id,
            "create preference",
            lambda sdk, opts: sdk.preference(opts).create(body, opts),
            request.idempotency_key,
        )
        return CheckoutLink(
            preference_id=str(created["id"]),
            url=str(created.get("init_point") or created.get("sandbox_init_point") or ""),
            expires_at=parse_datetime(created.get("expiration_date_to")) or request.expires_at,
        )

    async def _offline(
        self, request: OfflinePaymentRequest, method_id: str, extra: dict[str, Any]
    ) -> OfflinePayment:
        payer: dict[str, Any] = {"email": request.payer_email}
        if request.payer_first_name:
            payer["first_name"] = request.payer_first_name
        if request.payer_last_name:
            payer["last_name"] = request.payer_last_name
        payer.update(extra)
        body = {
            "transaction_amount": pesos(request.amount_cents),
            "description": request.description[:250],
            "payment_method_id": method_id,
            "external_reference": request.external_reference,
            "date_of_expiration": mp_datetime(request.expires_at),
            "payer": payer,
        }
        created = await self._call(
            request.gym_id,
            f"create {method_id} payment",
            lambda sdk, opts: sdk.payment(opts).create(body, opts),
            request.idempotency_key,
        )
        details = created.get("transaction_details") or {}
        bank = _dig(created, "point_of_interaction", "transaction_data", "bank_info", "collector")
        reference = (
            _dig(created, "barcode", "content")
            or details.get("payment_method_reference_id")
            or _dig(created, "payment_method", "data", "reference_id")
            or ""
        )
        return OfflinePayment(
            provider_payment_id=str(created["id"]),
            status=str(created.get("status", "pending")),
            reference=str(reference),
            ticket_url=str(details.get("external_resource_url") or ""),
            expires_at=parse_datetime(created.get("date_of_expiration")) or request.expires_at,
            clabe=str((bank or {}).get("account_id") or ""),
            bank=str((bank or {}).get("long_name") or details.get("financial_institution") or ""),
        )

    async def create_cash_payment(self, request: OfflinePaymentRequest) -> OfflinePayment:
        return await self._offline(request, "oxxo", {})

    async def create_bank_transfer(self, request: OfflinePaymentRequest) -> OfflinePayment:
        return await self._offline(request, "clabe", {"entity_type": "individual"})

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult:
        # A saved card is charged through a one-time token made from its card id (the
        # recurring-charge path; no CVV is stored, ever).
        token = await self._call(
            request.gym_id,
            "create card token",
            lambda sdk, opts: sdk.card_token(opts).create(
                {"card_id": request.card_id, "customer_id": request.customer_id}, opts
            ),
        )
        payer: dict[str, Any] = {"type": "customer", "id": request.customer_id}
        if request.payer_email:
            payer["email"] = request.payer_email
        body: dict[str, Any] = {
            "transaction_amount": pesos(request.amount_cents),
            "token": token["id"],
            "installments": 1,
            "description": request.description[:250],
            "external_reference": request.external_reference,
            "statement_descriptor": "GOGYM",
            "payer": payer,
        }
        if request.brand:
            body["payment_method_id"] = request.brand
        created = await self._call(
            request.gym_id,
            "charge saved card",
            lambda sdk, opts: sdk.payment(opts).create(body, opts),
            request.idempotency_key,
        )
        status = str(created.get("status", "rejected"))
        return ChargeResult(
            provider_payment_id=str(created["id"]),
            status=status if status in CHARGE_STATUSES else "pending",  # type: ignore[arg-type]
            status_detail=str(created.get("status_detail") or ""),
        )

    async def cancel_payment(self, gym_id: int | None, provider_payment_id: str) -> None:
        await self._call(
            gym_id,
            "cancel payment",
            lambda sdk, opts: sdk.payment(opts).update(
                provider_payment_id, {"status": "cancelled"}, opts
            ),
            f"cancel:{provider_payment_id}",
        )

    async def get_payment(
        self, gym_id: int | None, provider_payment_id: str
    ) -> ProviderPayment | None:
        found = await self._call(
            gym_id,
            "get payment",
            lambda sdk, opts: sdk.payment(opts).get(provider_payment_id, opts),
            not_found_ok=True,
        )
        return None if found is None else to_provider_payment(found)

    async def refund(self, request: RefundRequest) -> RefundResult:
        body = {} if request.amount_cents is None else {"amount": pesos(request.amount_cents)}
        created = await self._call(
            request.gym_id,
            "refund",
            lambda sdk, opts: sdk.refund(opts).create(request.provider_payment_id, body, opts),
            request.idempotency_key,
        )
        return RefundResult(
            refund_id=str(created.get("id", "")),
            amount_cents=centavos(created.get("amount")),
            status=str(created.get("status", "")),
        )

    async def search_payments(self, search: PaymentSearch) -> list[ProviderPayment]:
        found: list[ProviderPayment] = []
        offset = 0
        while offset < search.limit:
            filters: dict[str, Any] = {
                "sort": "date_created",
                "criteria": "asc",
                "range": "date_created",
                "begin_date": mp_datetime(search.created_from),
                "end_date": mp_datetime(search.created_to),
                "limit": SEARCH_PAGE,
                "offset": offset,
            }
            if search.external_reference:
                filters["external_reference"] = search.external_reference
            page = await self._call(
                search.gym_id,
                "search payments",
                lambda sdk, opts, f=filters: sdk.payment(opts).search(f, opts),  # type: ignore[misc]
            )
            results = page.get("results") or []
            found += [to_provider_payment(r) for r in results]
            total = int(_dig(page, "paging", "total") or 0)
            offset += len(results)
            if not results or offset >= total:
                break
        return found[: search.limit]

    async def save_card(self, request: SaveCardRequest) -> SavedCard:
        customer_id = request.customer_id
        if not customer_id:
            existing = await self._call(
                request.gym_id,
                "search customer",
                lambda sdk, opts: sdk.customer(opts).search({"email": request.email}, opts),
            )
            results = existing.get("results") or []
            if results:
                customer_id = str(results[0]["id"])
            else:
                created = await self._call(
                    request.gym_id,
                    "create customer",
                    lambda sdk, opts: sdk.customer(opts).create({"email": request.email}, opts),
                    f"customer:{request.idempotency_key}"[:64],
                )
                customer_id = str(created["id"])
        card = await self._call(
            request.gym_id,
            "save card",
            lambda sdk, opts: sdk.card(opts).create(
                customer_id, {"token": request.card_token}, opts
            ),
            request.idempotency_key,
        )
        return SavedCard(
            customer_id=str(customer_id),
            card_id=str(card["id"]),
            brand=str(_dig(card, "payment_method", "id") or ""),
            last4=str(card.get("last_four_digits") or ""),
            exp_month=card.get("expiration_month"),
            exp_year=card.get("expiration_year"),
            fingerprint=None,
        )


# --- webhook signatures ----------------------------------------------------------------------


def signature_manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    """What Mercado Pago signs: `id:{data.id};request-id:{x-request-id};ts:{ts};` (a pair
    whose value is absent is left out)."""
    parts = []
    if data_id:
        parts.append(f"id:{data_id}")
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    return ";".join(parts) + ";"


def sign_notification(data_id: str, request_id: str, secret: str, ts: int) -> str:
    """The `x-signature` header Mercado Pago would send (the simulator, tests, benchmark)."""
    manifest = signature_manifest(data_id.lower(), request_id, str(ts))
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def signature_problem(
    x_signature: str | None,
    x_request_id: str | None,
    data_id: str | None,
    secret: str,
    tolerance_seconds: int,
    now: float | None = None,
) -> str | None:
    """None when the notification is signed with `secret` within the tolerance; else why not.

    Mercado Pago's docs ask for `data.id` in lowercase when it is alphanumeric; payment ids
    are numeric, so this only matters for other topics. The SDK's validator reads `ts` as
    seconds.
    """
    clock = (lambda: int(now * 1000)) if now is not None else None
    try:
        WebhookSignatureValidator.validate(
            x_signature,
            x_request_id,
            data_id.lower() if data_id else data_id,
            secret,
            tolerance_seconds=tolerance_seconds,
            now=clock,
        )
    except InvalidWebhookSignatureError as exc:
        return str(exc.reason.value)
    return None
