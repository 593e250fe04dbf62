"""Requests per second per (connection, endpoint), shared by every worker (DESIGN §4.4).

Both limiters are GCRA reservations: each caller reserves its slot on a shared timeline and
sleeps until then. In Redis the timeline is one key updated by a Lua script, and a worker
reserves a small block of slots per round trip; without Redis it lives in this process.
"""

from __future__ import annotations

import asyncio
import threading
import time

from django.conf import settings

# Slots a worker takes from Redis at once: about 20 ms of traffic, at least one.
BLOCK_SECONDS = 0.02
# How far ahead of the steady rate a burst may run.
BURST_SECONDS = 0.05

RESERVE_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX',
    math.ceil((new_tat - now) * 1000) + 1000)
local wait = tat - now - burst
if wait < 0 then wait = 0 end
return tostring(wait)
"""


class LocalTimeline:
    _lock = threading.Lock()

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.tat = 0.0

    def reserve(self, n: int) -> float:
        with self._lock:
            now = time.monotonic()
            tat = max(self.tat, now)
            self.tat = tat + n * self.interval
            return max(0.0, tat - now - BURST_SECONDS)


_local: dict[tuple, LocalTimeline] = {}


class RateLimiter:
    """One per batch task (its event loop); `await acquire()` before every request."""

    def __init__(self, *, connection_id: int, endpoint: str, rate: float) -> None:
        self.key = f"lc:ratelimit:{connection_id}:{endpoint}"
        self.rate = max(float(rate), 1.0)
        self.block = max(1, int(self.rate * BLOCK_SECONDS))
        self.tokens = 0
        self._lock: asyncio.Lock | None = None
        self._redis = None
        self._script = None
        if settings.REDIS_URL:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(settings.REDIS_URL)
            self._script = self._redis.register_script(RESERVE_LUA)
        else:
            timeline_key = (connection_id, endpoint, self.rate)
            self._timeline = _local.setdefault(timeline_key, LocalTimeline(self.rate))

    async def acquire(self) -> None:
        if self.tokens > 0:
            self.tokens -= 1
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.tokens > 0:
                self.tokens -= 1
                return
            wait = await self._reserve(self.block)
            if wait > 0:
                await asyncio.sleep(wait)
            self.tokens = self.block - 1

    async def _reserve(self, n: int) -> float:
        if self._script is None:
            return self._timeline.reserve(n)
        wait = await self._script(
            keys=[self.key], args=[1.0 / self.rate, BURST_SECONDS, n], client=self._redis
        )
        return float(wait)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
