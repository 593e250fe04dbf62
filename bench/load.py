"""A closed-loop load generator: N workers, each sends, waits for the answer, sends again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def closed_loop(
    send: Callable[[int], Awaitable[bool]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.5,
    on_window: Callable[[str], None] | None = None,
) -> LoadResult:
    """Counts sends that complete inside [warmup, warmup + seconds); `send` returns success."""
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + seconds
    counts = {"ok": 0, "failed": 0, "seq": 0}

    async def worker() -> None:
        while loop.time() < end:
            counts["seq"] += 1
            success = await send(counts["seq"])
            if start <= loop.time() < end:
                counts["ok" if success else "failed"] += 1

    if on_window:
        loop.call_at(start, on_window, "start")
    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(end - loop.time())
    if on_window:
        on_window("end")
    # Stragglers past the window are not counted; slow clients get a short grace, then stop.
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return LoadResult(ok=counts["ok"], failed=counts["failed"], seconds=seconds)


async def open_loop(send: Callable[[int], Awaitable[T]], *, rate: float, seconds: float) -> list[T]:
    """Starts `send(i)` every 1/rate seconds for `seconds`, however long the answers take
    (arrivals as LINE makes them, not paced by the server); returns the results in order."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(round(rate * seconds)):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    return list(await asyncio.gather(*tasks))
