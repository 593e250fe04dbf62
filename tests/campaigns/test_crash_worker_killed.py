"""A real Celery worker is killed with SIGKILL in the middle of a campaign (Redis broker,
PostgreSQL). The sweeper re-queues what it held, a new worker finishes, and the emulator's
ledger shows every recipient exactly once, equal to the counters and the delivery rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from campaigns.engine.lifecycle import sweep_stale_batches
from campaigns.models import Campaign, Delivery
from tests.campaigns.engine_support import (
    counters,
    launch,
    line_id,
    make_connection,
    make_contacts,
    row_counts,
)

ROOT = Path(__file__).resolve().parents[2]
N = 3000
GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
]


@pytest.fixture
def needs_postgres_and_redis():
    if connection.vendor != "postgresql":
        pytest.skip("the crash test needs PostgreSQL (set DATABASE_URL); .ci/run provides it")
    if not settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "the crash test needs REDIS_URL and a Redis CELERY_BROKER_URL; .ci/run provides them"
        )


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(name: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEY),
        "DEBUG": "true",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Few requests in flight, so the campaign is still sending when the worker dies.
        "CAMPAIGN_SEND_CONCURRENCY": "10",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "linecampaigns",
        "worker",
        "-Q",
        "campaigns",
        "--concurrency",
        "2",
        "--pool",
        "prefork",
        "-n",
        f"{name}-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def kill(worker: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        worker.wait(30)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_campaign_is_recovered_and_everyone_gets_it_once(
    needs_postgres_and_redis, start_emulator, marketer, settings
):
    settings.CAMPAIGN_REQUEUE_AFTER_SECONDS = 0
    emulator = start_emulator(latency_ms=50, followers=0)
    conn = make_connection(emulator)
    make_contacts(N)
    workers = [start_worker("crash-first")]
    try:
        campaign = launch(marketer, conn, messages=GREETING)
        accepted = lambda: emulator.stats()["accepted_recipients"]  # noqa: E731
        wait_for(lambda: accepted() >= 400, 120, "the first sends")
        kill(workers[0])
        sent_before_kill = accepted()
        assert sent_before_kill < N, "the campaign finished before the worker was killed"
        assert Delivery.objects.filter(campaign=campaign, status="sending").exists()

        swept = sweep_stale_batches(lease_seconds=0)
        assert swept["stale"] >= 1
        workers.append(start_worker("crash-second"))

        def finished() -> bool:
            sweep_stale_batches(lease_seconds=10)  # what beat does every 45 s
            campaign.refresh_from_db()
            return campaign.status == Campaign.Status.COMPLETED

        wait_for(finished, 180, "the campaign to complete")
    finally:
        for worker in workers:
            kill(worker)

    ledger = Counter(entry["to"] for entry in emulator.messages())
    assert ledger == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == N == sum(ledger.values())
    assert campaign.attempted == campaign.sent + campaign.failed
