"""Rate limits: the in-memory and Redis limiters, and 429 + Retry-After through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.ratelimit import (
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    build_rate_limiter,
)
from backend.settings import Settings
from tests.factories import auth_headers, make_api_key, make_gym, make_staff


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _exercise(limiter: RateLimiter, clock: Clock) -> None:
    key = f"k-{uuid.uuid4().hex}"
    assert [await limiter.hit(key, 3, 60) for _ in range(3)] == [None, None, None]
    assert await limiter.hit(key, 3, 60) == 40  # window [1200, 1260), now 1220
    assert await limiter.hit(f"{key}-other", 3, 60) is None  # keys are independent
    clock.now = 1259.2
    assert await limiter.hit(key, 3, 60) == 1  # never 0: a client must wait
    clock.now = 1260.0
    assert await limiter.hit(key, 3, 60) is None  # a fresh window


async def test_memory_limiter_fixed_window() -> None:
    clock = Clock(1220.0)
    await _exercise(MemoryRateLimiter(clock), clock)


async def test_memory_limiter_bounds_its_memory() -> None:
    limiter = MemoryRateLimiter(Clock(0.0), max_keys=10)
    for i in range(50):
        await limiter.hit(f"ip:{i}", 5, 60)
    assert len(limiter._counts) <= 10


async def test_redis_limiter_fixed_window_and_ttl(redis_url: str) -> None:
    clock = Clock(1220.0)
    redis = Redis.from_url(redis_url)
    prefix = f"test-rl-{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(redis, clock, prefix=prefix)
    try:
        await _exercise(limiter, clock)
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        ttls = [await redis.ttl(k) for k in keys]
        assert ttls and all(0 < t <= 61 for t in ttls)
    finally:
        await limiter.close()


async def test_redis_limiter_counts_atomically_under_concurrency(redis_url: str) -> None:
    limiter = RedisRateLimiter(Redis.from_url(redis_url), prefix=f"test-rl-{uuid.uuid4().hex}")
    try:
        results = await asyncio.gather(*(limiter.hit("burst", 10, 60) for _ in range(40)))
        assert sum(r is None for r in results) == 10
    finally:
        await limiter.close()


def test_redis_when_configured_memory_otherwise(settings: Settings) -> None:
    assert isinstance(build_rate_limiter(settings), MemoryRateLimiter)
    with_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/15"})
    assert isinstance(build_rate_limiter(with_redis), RedisRateLimiter)


@pytest.fixture(params=["memory", "redis"])
async def limited_client(
    request: pytest.FixtureRequest, app_client: httpx.AsyncClient, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with tight limits, counted in memory or in the real Redis."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    app = app_client._transport.app  # type: ignore[attr-defined]
    app.state.settings = settings.model_copy(
        update={
            "redis_url": redis_url,
            "rate_limit_per_principal": 3,
            "rate_limit_per_ip": 5,
            "rate_limit_auth_per_ip": 2,
        }
    )
    await app.state.rate_limiter.close()
    # Counters of this test only: every test calls from 127.0.0.1.
    app.state.rate_limiter = (
        RedisRateLimiter.from_url(redis_url, prefix=f"test-rl-{uuid.uuid4().hex}")
        if redis_url
        else MemoryRateLimiter()
    )
    yield app_client


async def test_429_with_retry_after_per_user_and_per_key(
    limited_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    gym = await make_gym(session)
    owner = await make_staff(session, gym, "owner")
    _, secret = await make_api_key(session, gym)
    await session.commit()
    headers = auth_headers(settings.secret_key, owner)
    codes = [
        (await limited_client.get("/api/v1/members", headers=headers)).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    refused = await limited_client.get("/api/v1/members", headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["message_es"] and error["message_en"]
    # The key has its own budget, but the IP's (5) is spent by now.
    key_answer = await limited_client.get("/api/v1/members", headers={"X-API-Key": secret})
    assert key_answer.status_code == 429


async def test_login_attempts_are_limited_per_ip(
    limited_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    body = {"email": "nadie@gogym.test", "password": "guess"}
    codes = [
        (await limited_client.post("/api/v1/auth/login", json=body)).status_code for _ in range(3)
    ]
    assert codes == [401, 401, 429]
