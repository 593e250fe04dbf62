"""campaign_multicast: 1,000,000 recipients (--quick: 100,000), the same message for all, so
it goes by multicast (500 ids a request, LINE's default 200 req/s), end to end on PostgreSQL
and Redis with real Celery workers against the emulator at 50 ms latency. Targets: <= 120 s
from launch to completion; worker peak RSS <= 250 MB, flat in the audience size. Set-up and
machinery are shared with campaign_push."""

from __future__ import annotations

import os

from bench.registry import scenario
from bench.scenarios.campaign_push import SAME_FOR_ALL, run_campaign

# Each multicast batch mostly waits (on LINE, on PostgreSQL): more processes than cores (8
# measured faster than 4 on 2 cores; each process holds one batch of ids at a time).
PROCESSES = int(os.environ.get("BENCH_MULTICAST_PROCESSES", "8"))


@scenario("campaign_multicast")
def campaign_multicast(quick: bool) -> dict:
    recipients = 100_000 if quick else 1_000_000
    r = run_campaign(recipients, SAME_FOR_ALL, processes=PROCESSES)
    figures = {
        "recipients": recipients,
        "seconds": r["seconds"],
        "worker_peak_rss_mb": r["worker_peak_rss_mb"],
        "snapshot_seconds": r["snapshot_seconds"],
        "send_mode": r["send_mode"],
        "sent": r["sent"],
        "ledger_matches": r["emulator_accepted_recipients"] == r["sent"] == recipients,
    }
    print(
        f"   {recipients:,} recipients by {r['send_mode']} in {r['seconds']:.1f} s "
        f"(snapshot {r['snapshot_seconds']:.1f} s), worker peak RSS {r['worker_peak_rss_mb']} MB",
        flush=True,
    )
    return figures
