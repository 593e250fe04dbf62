"""The per-connection rate limiter (Redis when REDIS_URL is set, in-process otherwise) keeps the
engine at the connection's limit, so LINE never has to answer 429."""

import asyncio

import pytest

from campaigns.engine.ratelimit import RateLimiter
from campaigns.models import Campaign
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
