"""A real Celery worker is killed with SIGKILL in the middle of a campaign (Redis broker,
PostgreSQL) while a second one shares the work. The killed worker's batches stop renewing
their leases; the beat's sweeper notices within seconds and hands them to the other worker;
the campaign page says it is recovering meanwhile; and the emulator's ledger shows every
recipient exactly once, equal to the counters and the delivery rows."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from campaigns.models import Campaign, Delivery
from campaigns.selectors import campaign_recovery
from tests.campaigns.crash_support import (
    kill,
    start_beat,
    start_worker,
    wait_for,
    wait_for_workers,
)
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
# The lease (20 s) plus a sweep (every 10 s) plus what is left to send, with room to spare;
# before heartbeats the lease alone was 300 s.
RECOVERY_S = 90

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_campaign_is_recovered_within_seconds_and_everyone_gets_it_once(
    redis_server, broker, start_emulator, marketer, tmp_path
):
    emulator = start_emulator(latency_ms=50, followers=0)
    conn = make_connection(emulator)
    make_contacts(N)

    where = {"broker_url": broker, "redis_url": redis_server.url + "/2", "var_dir": tmp_path}
    # Few requests in flight, so the campaign is still sending when the worker dies.
    slow = {"CAMPAIGN_SEND_CONCURRENCY": "10"}
    workers = [
        start_beat(**where),
        start_worker("crash-first", **where, **slow),
        start_worker("crash-second", **where, **slow),
    ]
    said: set[str] = set()  # what the progress card said while it waited
    try:
        wait_for_workers(2, **where)
        campaign = launch(marketer, conn, messages=GREETING)
        accepted = lambda: emulator.stats()["accepted_recipients"]  # noqa: E731
        wait_for(lambda: accepted() >= 400, 120, "the first sends")
        kill(workers[1])
        killed = time.monotonic()
        assert accepted() < N, "the campaign finished before the worker was killed"
        assert Delivery.objects.filter(campaign=campaign, status="sending").exists()

        def completed() -> bool:
            campaign.refresh_from_db()
            said.add(re.sub(r"\d+", "N", campaign_recovery(campaign=campaign)))
            return campaign.status == Campaign.Status.COMPLETED

        wait_for(completed, RECOVERY_S, f"the campaign to complete within {RECOVERY_S} s")
        print(f"completed {time.monotonic() - killed:.1f} s after the kill")
    finally:
        for process in workers:
            kill(process)

    assert "stalled — recovering (worker lost N s ago)" in said
    ledger = Counter(entry["to"] for entry in emulator.messages())
    assert ledger == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == N == sum(ledger.values())
    assert campaign.attempted == campaign.sent + campaign.failed
