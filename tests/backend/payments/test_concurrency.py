"""The same payment notified many times at once, on real PostgreSQL with real separate
transactions: concurrent webhook requests, then concurrent processing jobs — applied once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing.models import Invoice
from backend.integrations.mercadopago import MercadoPagoProvider
from backend.integrations.mercadopago_sim import MercadoPagoSimulator
from backend.members.models import AuditEntry
from backend.messaging.models import OutboxMessage
from backend.payments.checkout import checkout_link
from backend.payments.models import Payment, PaymentNotification
from backend.payments.notifications import process_notification
from backend.runtime import Runtime
from backend.settings import Settings
from backend.types import utcnow
from dialogs.nlu.classifier import IntentModel
from gogym.server import build_app
from tests.conftest import NoSender
from tests.factories import make_invoice, make_member, make_subscription, standard_gym
from tests.mercadopago import MercadoPago
from tests.whatsapp import RecordingJobs


@pytest.fixture
async def live_mp(
    is_postgres: bool,
    mp_settings: Settings,
    committed_sessionmaker: async_sessionmaker[AsyncSession],
    nlu_model: IntentModel,
    mercadopago_api: tuple[MercadoPagoSimulator, str],
    mp_provider: MercadoPagoProvider,
) -> AsyncIterator[MercadoPago]:
    if not is_postgres:
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    sm = committed_sessionmaker
    jobs = RecordingJobs()
    runtime = Runtime(mp_settings, sm.kw["bind"], sm, NoSender(), mp_provider)
    runtime.use_jobs(jobs)
    app = build_app(mp_settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
            yield MercadoPago(
                c, mercadopago_api[0], mp_provider, sm, jobs, app.state.payment_accounts
            )


async def count(sm: async_sessionmaker[AsyncSession], model: type, *where: Any) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_concurrent_notifications_apply_once(live_mp: MercadoPago) -> None:
    mp, sm = live_mp, live_mp.sessionmaker
    async with sm() as session:
        gym, _, _, premium, _ = await standard_gym(session)
        ana = await make_member(session, gym)
        sub = await make_subscription(session, ana, premium, status="past_due")
        inv = await make_invoice(session, ana, 79900)
        inv.subscription_id = sub.id
        req = await checkout_link(session, mp.provider, gym, ana, [inv], utcnow())
        await session.commit()
    payment = mp.sim.card_payment_for(req.provider_ref)

    # 10 distinct deliveries of the same payment, and one delivery repeated 5 times, at once.
    notes = [mp.sim.notification_for(str(payment["id"])) for _ in range(10)]
    repeated = mp.sim.notification_for(str(payment["id"]))
    answers = await asyncio.gather(
        *(mp.deliver(n) for n in notes), *(mp.deliver(repeated) for _ in range(5))
    )
    assert all(a.status_code == 200 for a in answers)
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses.count("received") == 11 and statuses.count("duplicate") == 4
    assert await count(sm, PaymentNotification) == 11

    ids = mp.pending_jobs()
    # Every job twice, all at once (arq may run a job more than once).
    outcomes = await asyncio.gather(
        *(process_notification(sm, mp.provider, mp.accounts, i, utcnow()) for i in ids + ids)
    )
    assert outcomes.count("applied") == 1
    assert await count(sm, Payment) == 1
    assert await count(sm, Invoice, Invoice.status == "paid") == 1
    assert await count(sm, AuditEntry, AuditEntry.action == "invoice.paid") == 1
    assert await count(sm, OutboxMessage) == 1
    assert await count(sm, PaymentNotification, PaymentNotification.status == "received") == 0
