"""Background jobs: enqueued on Redis only after commit, run by a real arq worker against
the Twilio simulator, and the in-process queue used by the embedded mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job
from arq.worker import Worker
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import workers.settings as worker_settings
from backend.conversations.models import Conversation, Message
from backend.conversations.service import apply_delivery_status
from backend.db import transaction
from backend.gyms.models import Gym
from backend.integrations.twilio_sim import TwilioSimulator
from backend.jobs import ArqJobs, InProcessJobs, enqueue_after_commit
from backend.messaging.models import OutboxMessage
from backend.messaging.sender import OutgoingMessage, SendReceipt
from backend.messaging.service import SEND_JOB, queue_message, send_outbox_message
from backend.runtime import Runtime
from backend.settings import Settings
from backend.types import utcnow
from tests.factories import make_gym, make_member
from tests.whatsapp import new_sid
from workers.jobs import FUNCTIONS

TO, FROM = "whatsapp:+5215512345678", "whatsapp:+14155238886"


class NoSender:
    async def send(self, message: Any) -> Any:
        raise AssertionError("nothing is sent in these tests")


async def _queue_in_window(
    sessionmaker: async_sessionmaker[AsyncSession], body: str
) -> OutboxMessage:
    """A committed outbox message to a member who wrote an hour ago."""
    async with transaction(sessionmaker) as session:
        gym = await make_gym(session)
        member = await make_member(session, gym)
        session.add(
            Conversation(
                gym_id=gym.id,
                member_id=member.id,
                channel="whatsapp",
                slots={},
                last_inbound_at=utcnow() - timedelta(hours=1),
            )
        )
        return await queue_message(
            session,
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            to=TO,
            from_=FROM,
            body=body,
            now=utcnow(),
        )


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    """An arq pool on a queue of its own, in a Redis db emptied before and after."""
    queue = f"gogym-test:{uuid.uuid4().hex}"
    redis = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue)
    await redis.flushdb()
    yield redis
    await redis.flushdb()
    await redis.aclose()


def _queued(jobs: list[Any]) -> list[tuple[str, tuple[Any, ...], str | None]]:
    return [(j.function, tuple(j.args), j.job_id) for j in jobs]


# --- enqueue after commit ------------------------------------------------------------------


async def test_job_reaches_redis_only_after_commit(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], pool: ArqRedis
) -> None:
    runtime = Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender())
    runtime.use_jobs(ArqJobs(pool))

    async with transaction(sessionmaker) as session:
        enqueue_after_commit(session, SEND_JOB, 41, job_id="outbox:41")
        await session.flush()
        assert await pool.queued_jobs() == []  # not while the transaction is open
        assert await pool.zcard(pool.default_queue_name) == 0

    assert _queued(await pool.queued_jobs()) == [(SEND_JOB, (41,), "outbox:41")]


async def test_rolled_back_transaction_enqueues_nothing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], pool: ArqRedis
) -> None:
    Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender()).use_jobs(
        ArqJobs(pool)
    )
    with pytest.raises(RuntimeError, match="boom"):
        async with transaction(sessionmaker) as session:
            enqueue_after_commit(session, SEND_JOB, 42, job_id="outbox:42")
            raise RuntimeError("boom")
    assert await pool.queued_jobs() == []

    # A later, successful transaction on a new session does not pick up the dropped job.
    async with transaction(sessionmaker) as session:
        enqueue_after_commit(session, SEND_JOB, 43, job_id="outbox:43")
    assert _queued(await pool.queued_jobs()) == [(SEND_JOB, (43,), "outbox:43")]


async def test_failed_commit_enqueues_nothing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], pool: ArqRedis
) -> None:
    Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender()).use_jobs(
        ArqJobs(pool)
    )
    async with transaction(sessionmaker) as session:
        await make_gym(session)
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with transaction(sessionmaker) as session:
            enqueue_after_commit(session, SEND_JOB, 44, job_id="outbox:44")
            session.add(
                Gym(
                    name="Dup",
                    slug="test",
                    whatsapp_number="+14155550100",
                    timezone="America/Mexico_City",
                )
            )  # same slug: fails at commit
    assert await pool.queued_jobs() == []


async def test_queue_message_kicks_the_send_job_after_commit(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], pool: ArqRedis
) -> None:
    Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender()).use_jobs(
        ArqJobs(pool)
    )
    async with transaction(sessionmaker) as session:
        gym = await make_gym(session)
        member = await make_member(session, gym)
        item = await queue_message(
            session,
            gym_id=gym.id,
            member_id=member.id,
            channel="whatsapp",
            to=TO,
            from_=FROM,
            body="hola",
            now=utcnow(),
        )
        assert await pool.queued_jobs() == []
    assert _queued(await pool.queued_jobs()) == [(SEND_JOB, (item.id,), f"outbox:{item.id}")]


async def test_same_job_id_is_queued_once(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], pool: ArqRedis
) -> None:
    Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender()).use_jobs(
        ArqJobs(pool)
    )
    for _ in range(2):
        async with transaction(sessionmaker) as session:
            enqueue_after_commit(session, SEND_JOB, 45, job_id="outbox:45")
    assert _queued(await pool.queued_jobs()) == [(SEND_JOB, (45,), "outbox:45")]


# --- a real arq worker ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_worker_sends_an_outbox_message_exactly_once(
    settings: Settings,
    committed_sessionmaker: async_sessionmaker[AsyncSession],
    pool: ArqRedis,
    redis_url: str,
    twilio_api: tuple[TwilioSimulator, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, base = twilio_api
    # The API process: its sessions enqueue on Redis after commit.
    committed_sessionmaker.kw["info"] = {"jobs": ArqJobs(pool)}
    item = await _queue_in_window(committed_sessionmaker, "Tu pago quedó registrado ✅")
    assert _queued(await pool.queued_jobs()) == [(SEND_JOB, (item.id,), f"outbox:{item.id}")]
    # The cron's sweep lands at the same moment and races the kick for the same row.
    await pool.enqueue_job("flush_outbox", _job_id="sweep")
    await pool.enqueue_job("ensure_event_partitions", _job_id="partitions")

    # The worker process: `gogym worker`'s own startup builds its runtime from settings.
    worker_env = settings.model_copy(update={"twilio_api_base_url": base, "redis_url": redis_url})
    monkeypatch.setattr(worker_settings, "get_settings", lambda: worker_env)
    worker = Worker(
        functions=list(FUNCTIONS.values()),
        queue_name=pool.default_queue_name,
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=worker_settings.startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        max_tries=1,
    )
    try:
        assert await asyncio.wait_for(worker.run_check(), timeout=30) == 3
        assert isinstance(worker.ctx["runtime"].jobs, ArqJobs)
    finally:
        await worker.close()

    assert [m.body for m in sim.messages_to(TO)] == ["Tu pago quedó registrado ✅"]
    assert sim.messages_to(TO)[0].status_callback == (
        "https://gogym.example.test/webhooks/twilio/status"
    )
    async with committed_sessionmaker() as session:
        outbox = await session.get(OutboxMessage, item.id)
        assert outbox is not None
        assert (outbox.status, outbox.attempts) == ("sent", 1)
        logged = await session.get(Message, outbox.message_id)
        assert logged is not None
        assert (logged.status, logged.provider_id) == ("sent", sim.sent[-1].sid)
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    kick = await Job(f"outbox:{item.id}", pool).result_info()
    assert kick is not None and kick.success and kick.result in ("sent", "missing")
    sweep = await Job("sweep", pool).result_info()
    assert sweep is not None and sweep.success and sweep.result in (0, 1)
    assert await pool.queued_jobs() == []


class CallbackBeforeCommit:
    """A provider whose delivery callback reaches the status webhook before the send job's
    transaction has stored the provider id (Twilio's callbacks race the API response)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.callback: asyncio.Task[bool] | None = None

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        sid = new_sid()

        async def status_webhook() -> bool:  # what bot.whatsapp.whatsapp_status does
            async with transaction(self.sessionmaker) as session:
                return await apply_delivery_status(session, "whatsapp", sid, "delivered", None)

        self.callback = asyncio.create_task(status_webhook())
        # Give the webhook its chance to run (on SQLite it waits for the sender's write lock).
        await asyncio.wait({self.callback}, timeout=0.5)
        return SendReceipt(sid, "queued")


async def test_delivery_callback_racing_the_send_commit_is_not_lost(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Regression: the provider id was stored only when the send's transaction committed, so
    # a callback arriving in between found no message, was acknowledged (204) and dropped,
    # leaving the message "sent" forever (PostgreSQL; on SQLite the webhook waited for the
    # sender's write lock).
    item = await _queue_in_window(committed_sessionmaker, "hola")
    sender = CallbackBeforeCommit(committed_sessionmaker)
    status = await send_outbox_message(
        committed_sessionmaker, sender, item.id, status_callback=None, max_attempts=3, clock=utcnow
    )
    assert status == "sent"
    assert sender.callback is not None
    await asyncio.wait_for(sender.callback, timeout=30)
    async with committed_sessionmaker() as session:
        logged = await session.get(Message, item.message_id)
    assert logged is not None and logged.status == "delivered"


# --- in process (embedded mode) ------------------------------------------------------------


async def test_in_process_same_job_id_runs_once_while_running() -> None:
    release = asyncio.Event()
    calls: list[tuple[Any, ...]] = []

    async def slow(ctx: dict[str, Any], *args: Any) -> None:
        calls.append(args)
        await release.wait()

    jobs = InProcessJobs({"slow": slow}, {})
    await jobs.enqueue("slow", 1, job_id="outbox:1")
    await asyncio.sleep(0)  # let it start
    await jobs.enqueue("slow", 1, job_id="outbox:1")
    await jobs.enqueue("slow", 2, job_id="outbox:2")  # another id runs alongside
    await asyncio.sleep(0.01)
    assert calls == [(1,), (2,)]

    drained = asyncio.create_task(jobs.drain())
    await asyncio.sleep(0.01)
    assert not drained.done()  # drain waits for running jobs
    release.set()
    await asyncio.wait_for(drained, timeout=2)
    assert calls == [(1,), (2,)]

    # Finished: the same id may run again.
    await jobs.enqueue("slow", 1, job_id="outbox:1")
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert calls == [(1,), (2,), (1,)]


async def test_in_process_jobs_without_id_all_run_and_get_the_context() -> None:
    seen: list[Any] = []

    async def record(ctx: dict[str, Any], value: int) -> None:
        seen.append((ctx["runtime"], value))

    jobs = InProcessJobs({"record": record}, {"runtime": "rt"})
    for value in (1, 1, 2):
        await jobs.enqueue("record", value)
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert sorted(seen) == [("rt", 1), ("rt", 1), ("rt", 2)]


async def test_in_process_drain_waits_for_jobs_started_by_jobs() -> None:
    done: list[str] = []
    jobs: InProcessJobs

    async def child(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(0.02)
        done.append("child")

    async def parent(ctx: dict[str, Any]) -> None:
        await jobs.enqueue("child", job_id="child")
        done.append("parent")

    jobs = InProcessJobs({"parent": parent, "child": child}, {})
    await jobs.enqueue("parent")
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert done == ["parent", "child"]


async def test_in_process_failing_job_is_logged_and_frees_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []

    async def flaky(ctx: dict[str, Any]) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("first run fails")

    jobs = InProcessJobs({"flaky": flaky}, {})
    await jobs.enqueue("flaky", job_id="x")
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert "job flaky failed" in caplog.text
    await jobs.enqueue("flaky", job_id="x")
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert len(runs) == 2


async def test_in_process_after_commit_runs_the_job(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ran: list[int] = []

    async def job(ctx: dict[str, Any], value: int) -> None:
        ran.append(value)

    jobs = InProcessJobs({"job": job}, {})
    sessionmaker.kw["info"] = {"jobs": jobs}
    with pytest.raises(RuntimeError):
        async with transaction(sessionmaker) as session:
            enqueue_after_commit(session, "job", 1)
            raise RuntimeError("rolled back")
    async with transaction(sessionmaker) as session:
        enqueue_after_commit(session, "job", 2)
        await asyncio.sleep(0.01)
        assert ran == []
    await asyncio.wait_for(jobs.drain(), timeout=2)
    assert ran == [2]
