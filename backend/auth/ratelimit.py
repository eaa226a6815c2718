"""Fixed-window rate limits: Redis when REDIS_URL is set (shared by every replica), in
memory in the embedded single-process mode."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from backend.settings import Settings

Clock = Callable[[], float]

# INCR and EXPIRE in one atomic step: a crash between them cannot leave a key without TTL.
_HIT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one request for `key`; None when allowed, else seconds until it is."""
        ...

    async def close(self) -> None: ...


def _window(now: float, window_seconds: int) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (at least 1)."""
    index = int(now // window_seconds)
    left = max(1, math.ceil((index + 1) * window_seconds - now))
    return index, left


class MemoryRateLimiter:
    """Per-process counters; correct because the event loop runs one check at a time."""

    def __init__(self, clock: Clock = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        index, left = _window(self._clock(), window_seconds)
        window, count = self._counts.get(key, (index, 0))
        if window != index:
            count = 0
        count += 1
        if len(self._counts) >= self._max_keys and key not in self._counts:
            self._prune(index)
        self._counts[key] = (index, count)
        return left if count > limit else None

    def _prune(self, index: int) -> None:
        """Drop past windows; if that is not enough, forget the oldest keys (they start over,
        which errs toward letting requests in rather than growing without bound)."""
        self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        excess = len(self._counts) - self._max_keys + 1
        for key in list(self._counts)[: max(0, excess)]:
            del self._counts[key]

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    def __init__(self, redis: Redis, clock: Clock = time.time, prefix: str = "gogym:rl") -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._script = redis.register_script(_HIT_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "gogym:rl") -> RedisRateLimiter:
        return cls(Redis.from_url(url), prefix=prefix)

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        index, left = _window(self._clock(), window_seconds)
        count = int(
            await self._script(
                keys=[f"{self._prefix}:{window_seconds}:{key}:{index}"],
                args=[window_seconds + 1],
            )
        )
        return left if count > limit else None

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url)
    return MemoryRateLimiter()
