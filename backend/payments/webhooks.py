"""`POST /webhooks/mercadopago`: verify the signature, store the notification, answer 200.

Mercado Pago signs `id:{data.id};request-id:{x-request-id};ts:{ts};` with HMAC-SHA256 and
the seller account's webhook secret (`x-signature: ts=…,v1=…`). The account is the one whose
`user_id` the body names (a gym's own account) or the default one. A forged or stale
notification gets 401 and nothing is stored; the work happens in a job that looks the
payment up at Mercado Pago and trusts only that answer.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import get_session
from backend.errors import InvalidInput, Unauthorized
from backend.integrations.mercadopago import signature_problem
from backend.payments.accounts import AccountDirectory
from backend.payments.notifications import store_notification
from backend.payments.provider import MerchantAccount
from backend.settings import Settings
from backend.types import utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class BadNotification(InvalidInput):
    status_code = 400
    code = "bad_notification"


@dataclass(frozen=True)
class VerifiedNotification:
    account: MerchantAccount
    account_id: str
    topic: str
    action: str
    data_id: str
    request_id: str
    body: dict[str, Any]


async def verified_notification(request: Request) -> VerifiedNotification:
    """The notification, if and only if Mercado Pago signed it (and recently)."""
    settings: Settings = request.app.state.settings
    accounts: AccountDirectory = request.app.state.payment_accounts
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadNotification("Notificación demasiado grande.", "Notification too large.")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        log.warning("mercadopago webhook: malformed JSON body")
        raise BadNotification("JSON inválido.", "Malformed JSON body.") from exc
    if not isinstance(body, dict):
        raise BadNotification("JSON inválido.", "The body must be a JSON object.")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    query = request.query_params
    data_id = str(query.get("data.id") or query.get("id") or (data or {}).get("id") or "")
    topic = str(query.get("type") or query.get("topic") or body.get("type") or "")
    if not data_id or not topic or len(data_id) > 80:
        log.warning("mercadopago webhook without data.id/type: %s", request.url.query)
        raise BadNotification("Falta data.id o type.", "data.id and type are required.")
    account_id = str(body.get("user_id") or "")
    account = await accounts.for_user(account_id or None)
    request_id = request.headers.get("x-request-id", "")
    problem = (
        "no webhook secret configured"
        if account is None or not account.webhook_secret
        else signature_problem(
            request.headers.get("x-signature"),
            request_id,
            data_id,
            account.webhook_secret,
            settings.mercadopago_webhook_tolerance_seconds,
            now=time.time(),
        )
    )
    if problem is not None or account is None:
        log.warning(
            "mercadopago webhook refused (%s): data.id=%s request-id=%s user_id=%s",
            problem,
            data_id,
            request_id,
            account_id,
        )
        raise Unauthorized("Firma de Mercado Pago inválida.", "Invalid Mercado Pago signature.")
    return VerifiedNotification(
        account=account,
        account_id=account_id,
        topic=topic,
        action=str(body.get("action") or ""),
        data_id=data_id,
        request_id=request_id,
        body=body,
    )


def router() -> APIRouter:
    r = APIRouter(tags=["webhooks"])

    @r.post("/webhooks/mercadopago")
    async def mercadopago_webhook(
        note: VerifiedNotification = Depends(verified_notification),
        session: AsyncSession = Depends(get_session),
    ) -> dict[str, str]:
        stored = await store_notification(
            session,
            provider="mercadopago",
            account=note.account.user_id or note.account_id,
            gym_id=note.account.gym_id,
            topic=note.topic,
            action=note.action,
            data_id=note.data_id,
            request_id=note.request_id,
            payload=note.body,
            now=utcnow(),
        )
        return {"status": "received" if stored else "duplicate"}

    return r
