"""The per-connection rate limiter (Redis when REDIS_URL is set, otherwise a file that the
worker processes of one machine share) keeps the engine at the connection's limit, so LINE never
has to answer 429."""

import asyncio
import multiprocessing
import os
import socket
import time

import pytest
from django.conf import settings as django_settings

from campaigns.engine.batches import BatchRun
from campaigns.engine.ratelimit import RateLimiter
from campaigns.models import Campaign, Delivery
from campaigns.services import campaign_pause, campaign_resume
from tests.campaigns.engine_support import (
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_connection,
    make_contacts,
)

pytestmark = pytest.mark.usefixtures("fast_engine")


def test_the_connection_limit_keeps_line_from_answering_429(start_emulator, marketer):
    emulator = start_emulator(push_rate=25)
    connection = make_connection(emulator, push_rate_limit=25)
    make_contacts(60)
    campaign = drain(launch(marketer, connection, messages=[{"type": "text", "text": "Hi"}]))

    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(60)}
    assert emulator.stats()["rate_limited"] == 0


def test_limiters_of_one_connection_share_one_budget(db):
    """Two workers' limiters for the same connection and endpoint draw from one timeline:
    together they may not run ahead of the rate by more than the allowed burst."""

    async def run() -> float:
        a = RateLimiter(connection_id=990001, endpoint="push", rate=40)
        b = RateLimiter(connection_id=990001, endpoint="push", rate=40)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(limiter.acquire() for limiter in (a, b) for _ in range(40)))
        elapsed = loop.time() - started
        await a.aclose()
        await b.aclose()
        return elapsed

    # 80 slots at 40 a second cannot all be granted in much under two seconds.
    assert asyncio.run(run()) >= 1.5


def _grant_times(redis_url: str, rate: float, start_at: float, until: float, out) -> None:
    """One worker process: takes slots as fast as the limiter grants them."""
    django_settings.REDIS_URL = redis_url

    async def run() -> list[float]:
        limiter = RateLimiter(connection_id=990002, endpoint="push", rate=rate)
        await asyncio.sleep(max(0.0, start_at - time.time()))  # set up first, then race
        times = []
        while time.time() < until:
            await limiter.acquire()
            times.append(time.time())
        await limiter.aclose()
        return times

    out.put(asyncio.run(run()))


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_two_worker_processes_share_the_connection_limit(backend, settings, tmp_path):
    """Prefork workers are separate processes: together they get the connection's rate, not
    the rate each."""
    redis_url = os.environ.get("REDIS_URL", "") if backend == "redis" else ""
    if backend == "redis" and not redis_url:
        pytest.skip("set REDIS_URL to test the Redis limiter")
    settings.VAR_DIR = tmp_path
    rate, window = 100, 2.0
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 1.5
    workers = [
        context.Process(
            target=_grant_times, args=(redis_url, rate, start_at, start_at + window, out)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    grants = [t for _ in workers for t in out.get(timeout=30)]
    for worker in workers:
        worker.join(10)

    in_window = sum(start_at <= t <= start_at + window for t in grants)
    assert in_window <= rate * window
    assert in_window >= rate * window * 0.8
    assert _busiest_second(grants) <= rate  # LINE counts per second, the first one too


def _busiest_second(times: list[float]) -> int:
    times, busiest, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def test_a_batch_waits_while_the_limiters_redis_is_down_and_fails_nobody(
    emulator, connection, marketer, settings, monkeypatch
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings.REDIS_URL = f"redis://127.0.0.1:{s.getsockname()[1]}/0"  # nothing listens
    make_contacts(20)
    campaign = launch(marketer, connection, messages=[{"type": "text", "text": "Hi"}])
    original, slices = BatchRun._control, []

    def control(run: BatchRun) -> None:
        slices.append(1)
        if len(slices) == 10:  # half a second of waiting for the limiter
            campaign_pause(campaign=run.campaign, user=marketer)
        original(run)

    monkeypatch.setattr(BatchRun, "_control", control)
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.PAUSED
    assert ledger(emulator) == {}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "pending"
    }
    monkeypatch.undo()
    settings.REDIS_URL = ""
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(20)}
