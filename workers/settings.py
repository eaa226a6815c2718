"""arq worker settings for `gogym worker` (production mode, REDIS_URL set)."""

from __future__ import annotations

from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from backend.jobs import ArqJobs
from backend.runtime import build_runtime
from backend.settings import get_settings
from workers import jobs


async def startup(ctx: dict[str, Any]) -> None:
    runtime = build_runtime(get_settings())
    runtime.use_jobs(ArqJobs(ctx["redis"]))
    ctx["runtime"] = runtime


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
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_tries = 5
