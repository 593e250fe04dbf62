"""report_page: server time of the campaign report page for a campaign with 1,000,000
deliveries on PostgreSQL (--quick: 100,000).

The measurement runs in a child process with its own database (`linecampaigns_bench_report`
on the PostgreSQL server of BENCH_POSTGRES_URL, else of DATABASE_URL, else 127.0.0.1), so
it never writes a million rows into a working database and never shares Django settings with
other scenarios. The child seeds the rows with one INSERT ... SELECT, lets the analytics beat
task keep the settled campaign's figures (as it does within a minute of completion), then
times the page through Django's test client: `ms` is the median of warm requests;
`first_view_ms` is one request that finds no kept figures and counts them itself (a read
never keeps them: only the task does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.postgres import django_in_child, run_child
from bench.registry import scenario

DB_NAME = "linecampaigns_bench_report"
FULL, QUICK = 1_000_000, 100_000
REQUESTS = 15


@scenario("report_page")
def report_page(quick: bool) -> dict:
    rows = QUICK if quick else FULL
    figures = run_child("bench.scenarios.report_page", db_name=DB_NAME, args=["--rows", str(rows)])
    if "error" in figures:
        return {"deliveries": rows, "ms": None, **figures}
    print(
        f"   {rows:,} deliveries: report page {figures['ms']:.1f} ms median "
        f"(first view without kept figures {figures['first_view_ms']:.0f} ms), "
        f"delivery log {figures['log_ms']:.1f} ms, JSON report {figures['api_ms']:.1f} ms",
        flush=True,
    )
    return figures


# The child process ------------------------------------------------------------------------


SEED = """
INSERT INTO campaigns_delivery (
    campaign_id, contact_id, line_id, status, batch, retry_key, reason, request_id,
    accepted_request_id, http_status, error_message, error_details, attempts, created_at,
    first_attempt_at, finished_at)
SELECT %(campaign)s, NULL, 'U' || lpad(to_hex(i), 32, '0'), o.status, i / 500,
       gen_random_uuid(), o.reason, 'req-' || i, '', o.http, o.message, '[]'::jsonb,
       o.attempts, %(start)s, %(start)s + (i * %(step)s) * interval '1 millisecond',
       %(start)s + (i * %(step)s) * interval '1 millisecond'
FROM generate_series(1, %(rows)s) AS i
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        (0, 'failed', 'rate_limit', 429,
         'The API rate limit has been exceeded. Try again later.', 5),
        (1, 'failed', 'server_error', 500, 'Internal server error', 5),
        (2, 'failed', 'invalid_request', 400, 'The request body has 1 error(s)', 1),
        (3, 'skipped', 'frequency_cap', NULL, '', 0),
        (4, 'skipped', 'opted_out', NULL, '', 0),
        (5, 'failed', 'timeout', NULL, '', 5)
    ) AS v(k, status, reason, http, message, attempts)
    WHERE v.k = i %% 50
    UNION ALL
    SELECT -1, 'sent', '', 200, '', 1 WHERE i %% 50 > 5
) AS o
"""


def _seed(rows: int):
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import connection as db

    from campaigns.models import Campaign, figures_from_counts
    from connections.models import Connection

    user, _ = get_user_model().objects.get_or_create(
        username="bench-report", defaults={"is_superuser": True, "is_staff": True}
    )
    name = f"bench report_page {rows}"
    # recipients_total is set only once every row is in, so a half-seeded run is not reused.
    existing = Campaign.objects.filter(name=name, recipients_total=rows).first()
    if existing is not None:
        return existing, user
    with db.cursor() as cursor:
        cursor.execute(
            "DELETE FROM campaigns_delivery WHERE campaign_id IN "
            "(SELECT id FROM campaigns_campaign WHERE name = %s)",
            [name],
        )
    Campaign.objects.filter(name=name).delete()
    conn = Connection.objects.filter(name="bench report").first() or Connection.objects.create(
        name="bench report", channel_access_token="bench-token", channel_secret="bench-secret"
    )
    # A campaign that sent at ~1,700 messages a second, finished an hour ago.
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1, seconds=rows / 1700)
    campaign = Campaign.objects.create(
        name=name,
        connection=conn,
        status=Campaign.Status.COMPLETED,
        messages=[{"type": "text", "text": "Hello"}],
        launched_at=start,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=rows / 1700),
        aggregation_unit="bench_report",
    )
    with db.cursor() as cursor:
        params = {"campaign": campaign.pk, "rows": rows, "start": start, "step": 1000 / 1700}
        cursor.execute(SEED, params)
        cursor.execute("ANALYZE campaigns_delivery")
        cursor.execute(
            "SELECT status, count(*) FROM campaigns_delivery WHERE campaign_id = %s "
            "GROUP BY status",
            [campaign.pk],
        )
        by = dict(cursor.fetchall())
    Campaign.objects.filter(pk=campaign.pk).update(
        recipients_total=sum(by.values()), **figures_from_counts(by)
    )
    campaign.refresh_from_db()
    return campaign, user


def _time_ms(client, url: str, n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return statistics.median(samples)


def child(rows: int) -> dict:
    django_in_child()
    from django.test import Client

    from analytics.models import CampaignReport
    from analytics.services import campaign_reports_materialize_due

    seeded = time.perf_counter()
    campaign, user = _seed(rows)
    seed_s = time.perf_counter() - seeded

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    page = f"/analytics/campaigns/{campaign.pk}/"

    _time_ms(client, f"/analytics/campaigns/{campaign.pk}/deliveries/", 2)  # warm the process
    CampaignReport.objects.filter(campaign=campaign).delete()
    first_view_ms = _time_ms(client, page, 1)
    CampaignReport.objects.filter(campaign=campaign).delete()
    started = time.perf_counter()
    campaign_reports_materialize_due()  # what the analytics.materialize_reports beat task does
    materialize_ms = (time.perf_counter() - started) * 1000

    _time_ms(client, page, 2)  # warm the connection and template caches
    return {
        "deliveries": rows,
        "ms": round(_time_ms(client, page, REQUESTS), 1),
        "first_view_ms": round(first_view_ms, 1),
        "materialize_ms": round(materialize_ms, 1),
        "log_ms": round(_time_ms(client, f"/analytics/campaigns/{campaign.pk}/deliveries/", 5), 1),
        "log_failed_ms": round(
            _time_ms(
                client,
                f"/analytics/campaigns/{campaign.pk}/deliveries/?status=failed&reason=timeout",
                5,
            ),
            1,
        ),
        "api_ms": round(_time_ms(client, f"/api/v1/campaigns/{campaign.pk}/report", 5), 1),
        "seed_s": round(seed_s, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=FULL)
    args = parser.parse_args()
    print(json.dumps(child(args.rows)))
