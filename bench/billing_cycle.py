"""Billing-cycle benchmark: N subscriptions due at once on PostgreSQL, one cycle run.

Creates a scratch database, migrates it, inserts one gym with two plans and N members whose
period ended an hour ago (90% with a saved card, 5% of those declining, 10% without a card,
a few with balance credit), then times `run_cycle` against the in-process fake provider and
prints one JSON line. A second run checks that nothing is invoiced or charged twice.

    .venv/bin/python bench/billing_cycle.py --subscriptions 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend import migrate
from backend.billing.cycle import run_cycle
from backend.billing.models import CreditEntry, Invoice, Plan, Subscription
from backend.db import make_engine, make_sessionmaker
from backend.gyms.models import Gym
from backend.integrations.fake_payments import FakePaymentProvider
from backend.members.models import Member
from backend.payments.models import Payment, PaymentMethod
from backend.settings import Settings
from backend.types import utcnow

ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DB = "gogym_bench_billing"
BATCH = 5000


async def _admin(sql: str, admin: str) -> None:
    engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def _seed(url: str, n: int) -> None:
    engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    now = utcnow()
    end = now - timedelta(hours=1)
    async with engine.begin() as conn:
        gym_id = await conn.scalar(
            insert(Gym).returning(Gym.id),
            [
                {
                    "name": "Bench Gym",
                    "slug": "bench",
                    "whatsapp_number": "+14155550999",
                    "timezone": "America/Mexico_City",
                    "checkin_policy": "verify",
                    "enrollment_open": True,
                    "billing_settings": {},
                    "created_at": now,
                }
            ],
        )
        plan_ids = (
            (
                await conn.execute(
                    insert(Plan).returning(Plan.id),
                    [
                        {
                            "gym_id": gym_id,
                            "code": code,
                            "name": code.title(),
                            "price_cents": price,
                            "interval": "month",
                            "interval_count": 1,
                            "public": True,
                            "active": True,
                            "all_locations": True,
                            "kind": "membership",
                            "description": "",
                            "enrollment_fee_cents": 0,
                            "trial_days": 0,
                            "class_credits": None,
                            "features": {},
                            "seats": 1,
                            "corporate": False,
                            "created_at": now,
                        }
                        for code, price in (("basico", 49900), ("premium", 79900))
                    ],
                )
            )
            .scalars()
            .all()
        )
        for start in range(0, n, BATCH):
            size = min(BATCH, n - start)
            members = [
                {
                    "gym_id": gym_id,
                    "phone": f"+52{5500000000 + start + i}",
                    "name": f"Socio {i}",
                    "locale": "es",
                    "status": "active",
                    "marketing_opt_in": False,
                    "biometrics_opt_in": False,
                    "created_at": end - timedelta(days=30),
                }
                for i in range(size)
            ]
            ids = (await conn.execute(insert(Member).returning(Member.id), members)).scalars().all()
            await conn.execute(
                insert(Subscription),
                [
                    {
                        "gym_id": gym_id,
                        "member_id": m,
                        "plan_id": plan_ids[m % 2],
                        "status": "active",
                        "current_period_start": end - timedelta(days=30),
                        "current_period_end": end,
                        "cancel_at_period_end": False,
                        "created_at": end - timedelta(days=30),
                        "updated_at": end,
                    }
                    for m in ids
                ],
            )
            await conn.execute(
                insert(PaymentMethod),
                [
                    {
                        "gym_id": gym_id,
                        "member_id": m,
                        "provider": "fake",
                        "provider_customer_id": f"cus-{m}",
                        "provider_card_id": f"decline-{m}" if m % 20 == 1 else f"card-{m}",
                        "brand": "visa",
                        "last4": "4242",
                        "is_default": True,
                        "created_at": end,
                    }
                    for m in ids
                    if m % 10 != 0
                ],
            )
            await conn.execute(
                insert(CreditEntry),
                [
                    {
                        "gym_id": gym_id,
                        "member_id": m,
                        "amount_cents": 10000,
                        "reason": "goodwill",
                        "note": "",
                        "created_by": "bench",
                        "created_at": end,
                    }
                    for m in ids
                    if m % 50 == 0
                ],
            )
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--admin-url", default=ADMIN)
    args = parser.parse_args()
    server = args.admin_url.rsplit("/", 1)[0]
    url = f"{server}/{DB}"
    await _admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", args.admin_url)
    await _admin(f"CREATE DATABASE {DB}", args.admin_url)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        started = time.perf_counter()
        await _seed(url, args.subscriptions)
        seeded = time.perf_counter() - started

        engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        sessionmaker = make_sessionmaker(engine)
        provider = FakePaymentProvider()
        now = utcnow()
        started = time.perf_counter()
        report = await run_cycle(sessionmaker, provider, now, chunk_size=args.chunk)
        elapsed = time.perf_counter() - started
        again = await run_cycle(sessionmaker, provider, now, chunk_size=args.chunk)
        async with sessionmaker() as session:
            invoices = await session.scalar(select(func.count()).select_from(Invoice))
            payments = await session.scalar(select(func.count()).select_from(Payment))
        await engine.dispose()
        print(
            json.dumps(
                {
                    "subscriptions": args.subscriptions,
                    "cycle_seconds": round(elapsed, 1),
                    "subscriptions_per_s": round(args.subscriptions / elapsed),
                    "invoices": invoices,
                    "payments": payments,
                    "charged": report.charged,
                    "declined": report.declined,
                    "collected_mxn": report.collected_cents // 100,
                    "second_run_invoices": again.invoices,
                    "second_run_charges": again.charged,
                    "seed_seconds": round(seeded, 1),
                }
            )
        )
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", args.admin_url)


if __name__ == "__main__":
    asyncio.run(main())
