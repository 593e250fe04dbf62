"""Redis (broker, cache and rate limiter at once) stops for 20 s in the middle of a campaign and
comes back empty. The batches it held queued are dispatched again by the beat's sweeper, the
ones in flight wait for the rate limiter and finish, and the campaign completes within 90 s of
Redis's return with every recipient reached exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from campaigns.models import Campaign
from tests.campaigns.crash_support import kill, start_worker, wait_for
from tests.campaigns.engine_support import (
    counters,
    launch,
    line_id,
    make_connection,
    make_contacts,
    row_counts,
)

N = 3000
GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]
OUTAGE_S = 20

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.django_db(transaction=True)
def test_a_redis_loss_mid_campaign_recovers_within_90_s_of_its_return_exactly_once(
    redis_server, broker, start_emulator, marketer, tmp_path
):
    emulator = start_emulator(latency_ms=50, followers=0)
    conn = make_connection(emulator)
    make_contacts(N)
    worker = start_worker(
        "redis-lost",
        beat=True,
        broker_url=broker,
        redis_url=redis_server.url + "/2",
        var_dir=tmp_path,
        # Few requests in flight, so the campaign is still sending when Redis goes.
        CAMPAIGN_SEND_CONCURRENCY="10",
    )
    try:
        campaign = launch(marketer, conn, messages=GREETING)
        accepted = lambda: emulator.stats()["accepted_recipients"]  # noqa: E731
        wait_for(lambda: accepted() >= 700, 120, "the first sends")
        redis_server.stop()
        assert accepted() < N, "the campaign finished before Redis stopped"
        time.sleep(OUTAGE_S)
        redis_server.start()
        back = time.monotonic()

        def completed() -> bool:
            campaign.refresh_from_db()
            return campaign.status == Campaign.Status.COMPLETED

        wait_for(completed, 90, "the campaign to complete within 90 s of Redis's return")
        print(f"completed {time.monotonic() - back:.1f} s after Redis returned")
    finally:
        kill(worker)

    ledger = Counter(entry["to"] for entry in emulator.messages())
    assert ledger == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == N
