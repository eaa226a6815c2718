"""Background jobs: the same job functions run in-process (embedded) or on arq workers.

Jobs asked for inside a transaction go out only after it commits and are dropped on
rollback (see `backend.db.transaction`). The queue is put in every session's `info` by
the sessionmaker the composition root builds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


class JobQueue(Protocol):
    async def enqueue(self, name: str, *args: Any, job_id: str | None = None) -> None: ...


def enqueue_after_commit(
    session: AsyncSession, name: str, *args: Any, job_id: str | None = None
) -> None:
    jobs: JobQueue | None = session.info.get("jobs")
    if jobs is None:
        return  # no queue wired (tests of services alone); periodic sweeps still run

    async def _enqueue() -> None:
        await jobs.enqueue(name, *args, job_id=job_id)

    session.info.setdefault("after_commit", []).append(_enqueue)


class InProcessJobs:
    """Runs job functions as asyncio tasks in this process (the embedded default)."""

    def __init__(self, functions: Mapping[str, JobFunction], ctx: dict[str, Any]) -> None:
        self._functions = functions
        self.ctx = ctx
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None) -> None:
        if job_id and job_id in self._running:
            return  # like arq's _job_id: one live job per id
        task = asyncio.create_task(self._run(name, args), name=f"job:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if job_id:
            self._running[job_id] = task
            task.add_done_callback(lambda _t: self._running.pop(job_id, None))

    async def _run(self, name: str, args: tuple[Any, ...]) -> None:
        try:
            await self._functions[name](self.ctx, *args)
        except Exception:
            log.exception("job %s failed", name)

    async def drain(self) -> None:
        """Wait for every job started so far (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class ArqJobs:
    """Enqueues on Redis for `gogym worker` (arq) processes."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None) -> None:
        await self._pool.enqueue_job(name, *args, _job_id=job_id)
