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
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_tries = 5
