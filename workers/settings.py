"""arq worker settings for `gogym worker` (production mode, REDIS_URL set)."""

from __future__ import annotations

from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from backend.jobs import ArqJobs
from backend.payments.wiring import build_accounts, build_provider
from backend.runtime import build_runtime
from backend.settings import get_settings
from workers import jobs


async def startup(ctx: dict[str, Any]) -> None:
    runtime = build_runtime(get_settings())
    runtime.use_jobs(ArqJobs(ctx["redis"]))
    accounts = build_accounts(runtime.settings, runtime.sessionmaker)
    runtime.payments = build_provider(runtime.settings, accounts)
    ctx["runtime"] = runtime
    ctx["payment_accounts"] = accounts


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["runtime"].close()


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url or "redis://127.0.0.1:6379/0")


class WorkerSettings:
    functions: ClassVar[list[Any]] = list(jobs.FUNCTIONS.values())
    cron_jobs: ClassVar[list[Any]] = [
        cron(jobs.flush_outbox, second={0, 10, 20, 30, 40, 50}, run_at_startup=True),
        cron(jobs.ensure_event_partitions, hour={3}, minute={0}, run_at_startup=True),
        # Hourly: renewals fall due at the subscription's own time of day; dunning follows
        # in the same job (reminders wait for the end of quiet hours in the outbox).
        cron(jobs.run_billing_cycle, minute={5}, unique=True, timeout=3600),
        cron(jobs.materialize_class_sessions, minute={5}, run_at_startup=True),
        cron(jobs.send_class_reminders, minute=set(range(0, 60, 5))),
        cron(jobs.record_class_no_shows, minute=set(range(2, 60, 15))),
        # CFDI: the sweep issues what nobody enqueued and retries stamps with backoff; the
        # factura global goes out hourly-checked, so right after a period closes (keyed by
        # period: issued once).
        cron(jobs.sweep_cfdi, minute=set(range(1, 60, 5)), unique=True, timeout=1800),
        cron(jobs.issue_global_cfdis, minute={15}, unique=True, timeout=1800),
        cron(jobs.referral_sweep, minute=set(range(1, 60, 10)), unique=True),
        cron(jobs.expire_referrals, minute={40}, unique=True),
        # Payments: notifications whose job was lost or hit a provider outage; the daily
        # reconciliation against Mercado Pago (mismatches become staff alerts).
        cron(jobs.sweep_payment_notifications, minute=set(range(3, 60, 5)), unique=True),
        cron(jobs.reconcile_payments, hour={4}, minute={30}, unique=True, timeout=3600),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_tries = 5
