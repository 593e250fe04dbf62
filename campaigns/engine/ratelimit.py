"""Requests per second per (connection, endpoint), shared by every worker (docs/design.md §4.4).

Both limiters are GCRA reservations: each caller reserves its slot on a shared timeline and
sleeps until then, a small block of slots at a time. In Redis the timeline is one key updated
by a Lua script. Without Redis it is a small file under VAR_DIR, locked with flock while it is
read and written, so the worker processes of one machine (prefork, `--concurrency 2`) share one
budget instead of each spending the whole limit.

When Redis does not answer, `acquire` raises `RateLimiterUnavailable` and the batch waits and
asks again (`BatchRun._acquire`). Falling back to a per-machine budget would let N machines send
N times LINE's per-channel limit; and Redis is usually the broker too, so no new batch starts
while it is away anyway.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import threading
import time
from pathlib import Path

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Slots a worker reserves at once: about 20 ms of traffic, at least one.
BLOCK_SECONDS = 0.02
# A slot is used a little after its time: the reply from Redis, the event loop's wake-up and a
# busy CPU each add a few ms, unevenly. A late slot can land in the same second as on-time ones,
# so the timeline leaves room for this much lateness in every second (a 102-in-a-second grant
# on a loaded 2-core CI machine was 20 ms of it).
LATENESS_SECONDS = 0.05

RESERVE_LUA = """
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX',
    math.ceil((new_tat - now) * 1000) + 1000)
local wait = tat - now
if wait < 0 then wait = 0 end
return tostring(wait)
"""


class LocalTimeline:
    """The theoretical arrival time of one (connection, endpoint), as a double in a file."""

    # Threads of one process share the file descriptor, and flock does not order them.
    _lock = threading.Lock()
    # A stored time further ahead than this is from another clock (a reboot, a clock jump).
    MAX_AHEAD_SECONDS = 60.0

    def __init__(self, path: Path, interval: float) -> None:
        self.path, self.interval = path, interval
        self._fd, self._pid = -1, 0

    def _file(self) -> int:
        # A forked child must open its own descriptor: flock locks are per open file, so a
        # descriptor shared with the parent would not exclude the parent.
        if self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd

    def reserve(self, n: int) -> float:
        with self._lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(fd, 8, 0)
                now = time.time()
                tat = struct.unpack("d", raw)[0] if len(raw) == 8 else 0.0
                if tat < now or tat > now + self.MAX_AHEAD_SECONDS:
                    tat = now
                os.pwrite(fd, struct.pack("d", tat + n * self.interval), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return max(0.0, tat - now)


_local: dict[tuple, LocalTimeline] = {}


def local_timeline(connection_id: int, endpoint: str, interval: float) -> LocalTimeline:
    path = Path(settings.VAR_DIR) / "ratelimit" / f"{connection_id}-{endpoint}"
    key = (str(path), interval)
    timeline = _local.get(key)
    if timeline is None:
        timeline = _local[key] = LocalTimeline(path, interval)
    return timeline


class RateLimiterUnavailable(Exception):
    """The shared limiter's Redis did not answer: no slot was reserved."""


class RateLimiter:
    """One per batch task (its event loop); `await acquire()` before every request."""

    def __init__(self, *, connection_id: int, endpoint: str, rate: float) -> None:
        self.key = f"lc:ratelimit:{connection_id}:{endpoint}"
        self.rate = max(float(rate), 1.0)
        self.block = max(1, int(self.rate * BLOCK_SECONDS))
        # A block's slots are spent at once when it starts, so one second can see the steady
        # rate plus one block, and a block up to LATENESS_SECONDS late can join the next
        # second's: the steady rate is (rate - block) / (1 + lateness), so that every second,
        # as LINE counts it, sees at most `rate` (docs/design.md §4.4).
        steady = max(self.rate - self.block, self.rate / 2) / (1.0 + LATENESS_SECONDS)
        self.interval = 1.0 / steady
        self.tokens = 0
        self._lock: asyncio.Lock | None = None
        self._redis = None
        self._script = None
        if settings.REDIS_URL:
            import redis.asyncio as redis

            # Timeouts, so that a Redis that stopped answering is an error, not a hang.
            self._redis = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
            self._script = self._redis.register_script(RESERVE_LUA)
        else:
            self._timeline = local_timeline(connection_id, endpoint, self.interval)

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
        try:
            wait = await self._script(keys=[self.key], args=[self.interval, n], client=self._redis)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise RateLimiterUnavailable(f"Redis did not answer ({type(exc).__name__})") from exc
        return float(wait)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
