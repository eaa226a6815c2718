"""Mercado Pago notification benchmark: 1,000 signed webhooks through the real app on
PostgreSQL, 20% of them duplicates, many concurrent; proves nothing is applied twice.

Creates a scratch database, migrates it, seeds one gym with N members who each owe one
invoice and have a Checkout Pro link, approves each link's payment at the Mercado Pago
simulator (its own process), then POSTs the notifications to the real app (its own
process: uvicorn, the embedded job runner, the real Mercado Pago adapter looking every
payment up at the simulator) with C concurrent senders from this process. Duplicates are
half exact re-deliveries (same x-request-id) and half new deliveries of an already notified
payment, shuffled in among the originals so many race each other. Waits until every stored
notification is processed, then checks the books and prints one JSON line.

    .venv/bin/python bench/mp_notifications.py --notifications 1000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend import migrate
from backend.billing.models import Invoice, Plan, Subscription
from backend.db import make_engine
from backend.gyms.models import Gym
from backend.integrations.mercadopago_sim import (
    SIM_ACCESS_TOKEN,
    SIM_USER_ID,
    SIM_WEBHOOK_SECRET,
    MercadoPagoSimulator,
    Notification,
)
from backend.members.models import AuditEntry, Member
from backend.messaging.models import OutboxMessage
from backend.messaging.sender import OutgoingMessage, SendReceipt
from backend.payments.models import (
    Payment,
    PaymentNotification,
    PaymentRequest,
    payment_request_invoices,
)
from backend.payments.wiring import build_accounts, build_provider
from backend.runtime import build_runtime
from backend.settings import Settings
from backend.types import utcnow
from gogym.server import build_app

ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DB = "gogym_bench_mp"


class NullSender:
    """Receipts go to the outbox as usual; sending them is not what is measured here."""

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        return SendReceipt(provider_id="SM" + "0" * 32, status="sent")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )


async def _ready(url: str, proc: subprocess.Popen[bytes], wait: float = 120) -> None:
    deadline = time.monotonic() + wait
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited with {proc.returncode}")
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _seeded_simulator(refs: list[tuple[str, int]]) -> MercadoPagoSimulator:
    """The simulator with one approved card payment per reference. Ids are sequential, so
    the copy in this process and the one serving the API agree on them."""
    sim = MercadoPagoSimulator(deliver=False)
    for ref, cents in refs:
        sim._new_payment(
            collector=SIM_USER_ID,
            amount=cents / 100,
            description="bench",
            external_reference=ref,
            payment_type="credit_card",
            method="visa",
            status="approved",
            detail="accredited",
        )
    return sim


def serve_simulator(port: int, refs_file: str) -> None:
    refs = [tuple(r) for r in json.loads(Path(refs_file).read_text())]
    sim = _seeded_simulator(refs)  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(sim.router())
    app.add_api_route("/ready", lambda: {"ok": True})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=2048)


def serve_app(port: int, url: str, sim_url: str) -> None:
    settings = Settings(
        database_url=url,
        redis_url="",
        simulate_providers=False,
        public_base_url=f"http://127.0.0.1:{port}",
        mercadopago_access_token=SIM_ACCESS_TOKEN,
        mercadopago_webhook_secret=SIM_WEBHOOK_SECRET,
        mercadopago_api_base_url=sim_url,
        db_pool_size=20,
        billing_interval_minutes=1440,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = build_runtime(settings, sender=NullSender())
    runtime.payments = build_provider(settings, build_accounts(settings, runtime.sessionmaker))
    app = build_app(settings, runtime=runtime)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=2048)


async def _admin(sql: str, admin: str) -> None:
    engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def _seed(url: str, n: int) -> list[tuple[str, int]]:
    """One gym, n members each owing one invoice with a live link: [(reference, cents)]."""
    engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    now = utcnow()
    refs: list[tuple[str, int]] = []
    async with engine.begin() as conn:
        gym_id = await conn.scalar(
            insert(Gym).returning(Gym.id),
            [
                {
                    "name": "Bench Gym",
                    "slug": "bench",
                    "whatsapp_number": "+14155550998",
                    "timezone": "America/Mexico_City",
                    "checkin_policy": "verify",
                    "enrollment_open": True,
                    "billing_settings": {},
                    "created_at": now,
                }
            ],
        )
        plan_id = await conn.scalar(
            insert(Plan).returning(Plan.id),
            [
                {
                    "gym_id": gym_id,
                    "code": "premium",
                    "name": "Premium",
                    "price_cents": 79900,
                    "interval": "month",
                    "interval_count": 1,
                    "public": True,
                    "active": True,
                    "all_locations": True,
                    "kind": "membership",
                    "description": "",
                    "enrollment_fee_cents": 0,
                    "trial_days": 0,
                    "features": {},
                    "seats": 1,
                    "corporate": False,
                    "created_at": now,
                }
            ],
        )
        members = (
            (
                await conn.execute(
                    insert(Member).returning(Member.id),
                    [
                        {
                            "gym_id": gym_id,
                            "phone": f"+5255{i:08d}",
                            "whatsapp_address": f"whatsapp:+5215{i:09d}",
                            "name": f"Socio {i}",
                            "locale": "es",
                            "status": "active",
                            "marketing_opt_in": False,
                            "biometrics_opt_in": False,
                            "created_at": now,
                        }
                        for i in range(n)
                    ],
                )
            )
            .scalars()
            .all()
        )
        subs = (
            (
                await conn.execute(
                    insert(Subscription).returning(Subscription.id),
                    [
                        {
                            "gym_id": gym_id,
                            "member_id": m,
                            "plan_id": plan_id,
                            "status": "past_due",
                            "current_period_start": now - timedelta(days=3),
                            "current_period_end": now + timedelta(days=27),
                            "cancel_at_period_end": False,
                            "past_due_since": now - timedelta(days=3),
                            "created_at": now,
                            "updated_at": now,
                        }
                        for m in members
                    ],
                )
            )
            .scalars()
            .all()
        )
        amounts = [79900 + (i % 7) * 1050 for i in range(n)]  # some with centavos
        invoices = (
            (
                await conn.execute(
                    insert(Invoice).returning(Invoice.id),
                    [
                        {
                            "gym_id": gym_id,
                            "member_id": m,
                            "subscription_id": s,
                            "number": f"B-{i + 1:06d}",
                            "status": "open",
                            "subtotal_cents": amount - amount * 16 // 116,
                            "tax_cents": amount * 16 // 116,
                            "total_cents": amount,
                            "credit_applied_cents": 0,
                            "amount_due_cents": amount,
                            "issued_at": now - timedelta(days=3),
                            # Not yet overdue: the dunning run at start-up leaves them alone.
                            "due_at": now + timedelta(days=1),
                            "reason": "renewal",
                            "charge_attempts": 0,
                        }
                        for i, (m, s, amount) in enumerate(zip(members, subs, amounts, strict=True))
                    ],
                )
            )
            .scalars()
            .all()
        )
        rows = []
        for m, inv, amount in zip(members, invoices, amounts, strict=True):
            ref = f"gg:{gym_id}:link:{inv}:1"
            refs.append((ref, amount))
            rows.append(
                {
                    "gym_id": gym_id,
                    "member_id": m,
                    "kind": "checkout",
                    "amount_cents": amount,
                    "provider": "mercadopago",
                    "external_reference": ref,
                    "idempotency_key": ref,
                    "provider_ref": f"pref-{inv}",
                    "url": "",
                    "reference": "",
                    "clabe": "",
                    "bank": "",
                    "expires_at": now + timedelta(days=3),
                    "status": "live",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        request_ids = (
            (await conn.execute(insert(PaymentRequest).returning(PaymentRequest.id), rows))
            .scalars()
            .all()
        )
        await conn.execute(
            insert(payment_request_invoices),
            [
                {"payment_request_id": r, "invoice_id": i}
                for r, i in zip(request_ids, invoices, strict=True)
            ],
        )
    await engine.dispose()
    return refs


def _deliveries(
    sim: MercadoPagoSimulator, payment_ids: list[str], total: int
) -> list[Notification]:
    originals = [sim.notification_for(pid, "payment.created") for pid in payment_ids]
    extra = total - len(originals)
    rng = random.Random(5)
    exact = [rng.choice(originals) for _ in range(extra // 2)]  # same x-request-id
    fresh = [
        sim.notification_for(rng.choice(payment_ids), "payment.updated")
        for _ in range(extra - len(exact))
    ]
    deliveries = originals + exact + fresh
    rng.shuffle(deliveries)
    return deliveries


async def _send(url: str, deliveries: list[Notification], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[Notification] = asyncio.Queue()
    for d in deliveries:
        queue.put_nowait(d)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                note = queue.get_nowait()
                start = time.perf_counter()
                answer = await client.post(
                    "/webhooks/mercadopago",
                    params=note.query,
                    content=json.dumps(note.body),
                    headers=note.headers,
                )
                latencies.append(time.perf_counter() - start)
                key = str(answer.status_code) + (
                    ":" + answer.json().get("status", "") if answer.status_code == 200 else ""
                )
                statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "webhook_seconds": round(elapsed, 3),
        "webhook_per_second": round(len(deliveries) / elapsed, 1),
        "webhook_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "webhook_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "answers": statuses,
    }


async def _wait_processed(url: str, wait: float) -> float:
    engine = create_async_engine(url, poolclass=NullPool)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < wait:
            async with engine.connect() as conn:
                left = await conn.scalar(
                    select(func.count())
                    .select_from(PaymentNotification)
                    .where(PaymentNotification.status == "received")
                )
            if not left:
                return time.perf_counter() - started
            await asyncio.sleep(0.05)
        raise RuntimeError("notifications still unprocessed after the timeout")
    finally:
        await engine.dispose()


async def _books(url: str) -> dict[str, int]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:

        async def n(stmt: Any) -> int:
            return int(await conn.scalar(stmt) or 0)

        per_invoice = (
            select(Payment.invoice_id, func.count().label("n"))
            .where(Payment.applied_at.isnot(None))
            .group_by(Payment.invoice_id)
            .subquery()
        )
        books = {
            "notifications_stored": await n(select(func.count()).select_from(PaymentNotification)),
            "payments": await n(select(func.count()).select_from(Payment)),
            "payments_applied": await n(
                select(func.count()).select_from(Payment).where(Payment.applied_at.isnot(None))
            ),
            "invoices_paid": await n(
                select(func.count()).select_from(Invoice).where(Invoice.status == "paid")
            ),
            "invoice_paid_audits": await n(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "invoice.paid")
            ),
            "invoices_applied_twice": await n(
                select(func.count()).select_from(per_invoice).where(per_invoice.c.n > 1)
            ),
            "receipts": await n(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.body.like("%Pago recibido%"))
            ),
            "subscriptions_reactivated": await n(
                select(func.count())
                .select_from(Subscription)
                .where(Subscription.status == "active")
            ),
        }
    await engine.dispose()
    return books


async def main(total: int, concurrency: int, admin: str) -> dict[str, Any]:
    unique = round(total * 0.8)
    url = admin.rsplit("/", 1)[0] + f"/{DB}"
    await _admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", admin)
    await _admin(f"CREATE DATABASE {DB}", admin)
    await asyncio.to_thread(migrate.upgrade, url)
    refs = await _seed(url, unique)

    sim = _seeded_simulator(refs)
    payment_ids = list(sim.payments)
    deliveries = _deliveries(sim, payment_ids, total)

    scratch = Path(tempfile.mkdtemp(prefix="gogym-bench-mp-"))
    (scratch / "refs.json").write_text(json.dumps(refs))
    sim_port, app_port = _free_port(), _free_port()
    sim_url, app_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{app_port}"
    sim_proc = _spawn(
        "--serve-sim", str(sim_port), str(scratch / "refs.json"), log=scratch / "sim.log"
    )
    app_proc = _spawn("--serve-app", str(app_port), url, sim_url, log=scratch / "app.log")
    try:
        await _ready(sim_url + "/ready", sim_proc)
        await _ready(app_url + "/healthz", app_proc)
        started = time.perf_counter()
        sent = await _send(app_url, deliveries, concurrency)
        drained = await _wait_processed(url, wait=300)
        end_to_end = time.perf_counter() - started
    finally:
        for proc in (app_proc, sim_proc):
            proc.terminate()
            proc.wait(timeout=30)
    books = await _books(url)
    report = {
        "notifications": total,
        "unique_payments": unique,
        "duplicates": total - unique,
        "concurrency": concurrency,
        **sent,
        "processing_tail_seconds": round(drained, 3),
        "end_to_end_seconds": round(end_to_end, 3),
        "end_to_end_per_second": round(total / end_to_end, 1),
        **books,
    }
    report["double_applications"] = report.pop("invoices_applied_twice")
    report["ok"] = (
        report["double_applications"] == 0
        and books["payments"] == unique
        and books["payments_applied"] == unique
        and books["invoices_paid"] == unique
        and books["invoice_paid_audits"] == unique
        and books["receipts"] == unique
    )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--admin-url", default=ADMIN)
    parser.add_argument("--serve-sim", nargs=2, metavar=("PORT", "REFS"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve-app", nargs=3, metavar=("PORT", "DB", "SIM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_sim:
        serve_simulator(int(args.serve_sim[0]), args.serve_sim[1])
        raise SystemExit(0)
    if args.serve_app:
        serve_app(int(args.serve_app[0]), args.serve_app[1], args.serve_app[2])
        raise SystemExit(0)
    result = asyncio.run(main(args.notifications, args.concurrency, args.admin_url))
    print(json.dumps(result))
    raise SystemExit(0 if result["ok"] else 1)
