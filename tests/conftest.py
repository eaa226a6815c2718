"""Test setup: real PostgreSQL and Redis when reachable (required under CI=true), SQLite
otherwise; schema from the Alembic migrations; each test inside a rolled-back transaction;
any network access outside loopback fails the test."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from backend import migrate
from backend.db import make_engine
from backend.integrations.mercadopago import MercadoPagoProvider
from backend.integrations.mercadopago_sim import (
    SIM_ACCESS_TOKEN,
    SIM_WEBHOOK_SECRET,
    MercadoPagoSimulator,
)
from backend.integrations.twilio_sim import TwilioSimulator
from backend.models import Base
from backend.payments.provider import StaticCredentials
from backend.runtime import Runtime
from backend.settings import Settings
from dialogs.nlu.classifier import IntentModel, load_or_train
from gogym.server import build_app
from tests.mercadopago import MercadoPago
from tests.whatsapp import RecordingJobs, WhatsApp

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DB = f"gogym_test_{os.getpid()}"


async def _pg_available() -> bool:
    engine = create_async_engine(PG_ADMIN_URL, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if asyncio.run(_pg_available()):
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {TEST_DB}"))
        asyncio.run(_admin(f"CREATE DATABASE {TEST_DB}"))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{TEST_DB}"
        migrate.upgrade(url)
        yield url
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"))
        return
    if CI:
        pytest.exit("CI=true but PostgreSQL is not reachable", returncode=3)
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    if _redis_available():
        return REDIS_URL
    if CI:
        pytest.exit("CI=true but Redis is not reachable", returncode=3)
    pytest.skip("Redis not reachable")


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        gogym_env="test",
        database_url=database_url,
        redis_url="",
        secret_key="test-secret-key-of-at-least-32-bytes!",
        # Deliberately not the address tests connect to: signatures use the public URL.
        public_base_url="https://gogym.example.test",
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="test-auth-token",
        simulate_providers=False,
        nlu_data_dir=ROOT / "nlu_data",
        nlu_model_dir=ROOT / "models",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def nlu_model() -> IntentModel:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    return load_or_train(ROOT / "nlu_data", ROOT / "models", s.nlu_confidence_threshold)


@asynccontextmanager
async def rolled_back(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions whose commits are savepoints inside one transaction rolled back at the end."""
    engine = make_engine(Settings(database_url=database_url, _env_file=None), poolclass=NullPool)  # type: ignore[call-arg]
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield async_sessionmaker(
            bind=conn,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        await outer.rollback()
    await engine.dispose()


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with rolled_back(database_url) as maker:
        yield maker


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest.fixture
async def committed_sessionmaker(
    database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Real, separate transactions (concurrency tests); every table is emptied afterwards."""
    engine = make_engine(Settings(database_url=database_url, db_pool_size=20, _env_file=None))  # type: ignore[call-arg]
    yield async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    async with engine.begin() as conn:
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                await conn.execute(text(f"DELETE FROM {name}"))
    await engine.dispose()


# --- no network beyond loopback -------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"network access outside loopback in a test: {address!r}")


def _guarded_connect(sock: socket.socket, address: Any) -> Any:
    _check(sock, address)
    return _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
    _check(sock, address)
    return _real_connect_ex(sock, address)


def _guarded_sendto(sock: socket.socket, data: Any, *args: Any) -> Any:
    _check(sock, args[-1])
    return _real_sendto(sock, data, *args)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", _guarded_sendto)


# --- local HTTP servers (fake providers, live app) --------------------------------------


class LiveServer:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def twilio_api(settings: Settings) -> Iterator[tuple[Any, str]]:
    """The Twilio API simulator on its own port: (simulator, base URL for TWILIO_API_BASE_URL)."""
    sim = TwilioSimulator(
        settings.twilio_account_sid, settings.twilio_auth_token, deliver_callbacks=False
    )
    app = FastAPI()
    app.include_router(sim.router())
    with LiveServer(app) as server:
        yield sim, server.url


# --- the app, driven through its real routes --------------------------------------------


class NoSender:
    async def send(self, message: Any) -> Any:
        raise AssertionError("route tests send nothing through the outbox")


@pytest.fixture
async def app_client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], nlu_model: IntentModel
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender())
    runtime.use_jobs(RecordingJobs())
    app = build_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
            yield c


@pytest.fixture
def wa(app_client: httpx.AsyncClient, settings: Settings) -> WhatsApp:
    return WhatsApp(app_client, settings)


# --- Mercado Pago: the simulator on a loopback port, and the app wired to it -------------


@pytest.fixture
def mercadopago_api() -> Iterator[tuple[MercadoPagoSimulator, str]]:
    """The Mercado Pago simulator on its own port: (simulator, MERCADOPAGO_API_BASE_URL)."""
    sim = MercadoPagoSimulator(deliver=False)
    app = FastAPI()
    app.include_router(sim.router())
    with LiveServer(app) as server:
        sim.public_url = server.url
        yield sim, server.url


@pytest.fixture
def mp_settings(settings: Settings, mercadopago_api: tuple[MercadoPagoSimulator, str]) -> Settings:
    return settings.model_copy(
        update={
            "mercadopago_access_token": SIM_ACCESS_TOKEN,
            "mercadopago_webhook_secret": SIM_WEBHOOK_SECRET,
            "mercadopago_api_base_url": mercadopago_api[1],
            "mercadopago_timeout_seconds": 0.5,
        }
    )


@pytest.fixture
def mp_provider(mercadopago_api: tuple[MercadoPagoSimulator, str]) -> MercadoPagoProvider:
    """The real adapter against the simulator: short timeout, quick retries."""
    return MercadoPagoProvider(
        StaticCredentials(SIM_ACCESS_TOKEN),
        base_url=mercadopago_api[1],
        timeout=0.5,
        max_retries=2,
        backoff_seconds=0.01,
    )


@pytest.fixture
async def mp(
    mp_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    nlu_model: IntentModel,
    mercadopago_api: tuple[MercadoPagoSimulator, str],
    mp_provider: MercadoPagoProvider,
) -> AsyncIterator[MercadoPago]:
    """The app (webhook, REST API and chat) with the real Mercado Pago adapter."""
    jobs = RecordingJobs()
    runtime = Runtime(
        mp_settings, sessionmaker.kw["bind"].engine, sessionmaker, NoSender(), mp_provider
    )
    runtime.use_jobs(jobs)
    app = build_app(mp_settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
            yield MercadoPago(
                c, mercadopago_api[0], mp_provider, sessionmaker, jobs, app.state.payment_accounts
            )


@pytest.fixture
def mp_wa(mp: MercadoPago, mp_settings: Settings) -> WhatsApp:
    return WhatsApp(mp.client, mp_settings)
