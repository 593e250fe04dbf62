"""Rows earlier versions left `skipped` as cancelled or expired become `not_sent`, and the
counters of their campaigns and their kept reports move with them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("campaigns", "0004_campaign_audience_retry"),
    ("analytics", "0003_campaignreport_remove_utc_daily"),
]
AFTER = [("analytics", "0004_campaignreport_not_sent")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_stopped_rows_become_not_sent_and_counters_follow():
    apps = migrate(BEFORE)
    Connection = apps.get_model("connections", "Connection")
    Campaign = apps.get_model("campaigns", "Campaign")
    Delivery = apps.get_model("campaigns", "Delivery")
    conn = Connection.objects.create(name="Main", webhook_slug="main-slug")
    cancelled = Campaign.objects.create(
        name="Stopped", connection=conn, status="cancelled", recipients_total=6
    )
    completed = Campaign.objects.create(name="Done", connection=conn, status="completed")
    rows = [
        (cancelled, "sent", ""),
        (cancelled, "skipped", "opted_out"),
        *[(cancelled, "skipped", "cancelled")] * 3,
        (cancelled, "skipped", "expired"),
        (completed, "skipped", "frequency_cap"),
    ]
    for n, (campaign, status, reason) in enumerate(rows):
        Delivery.objects.create(
            campaign=campaign, line_id=f"U{n:032x}", status=status, reason=reason
        )
    Campaign.objects.filter(pk=cancelled.pk).update(sent=1, attempted=1, skipped=5)
    Campaign.objects.filter(pk=completed.pk).update(skipped=1)
    apps.get_model("analytics", "CampaignReport").objects.create(
        campaign_id=cancelled.pk,
        computed_at="2026-01-01T00:00:00Z",
        counters=[1, 1, 0, 5],
        status_counts={"sent": 1, "skipped": 5},
        skips=[
            {"reason": "cancelled", "count": 3},
            {"reason": "opted_out", "count": 1},
            {"reason": "expired", "count": 1},
        ],
    )
    try:
        apps = migrate(AFTER)
        Campaign = apps.get_model("campaigns", "Campaign")
        Delivery = apps.get_model("campaigns", "Delivery")
        stopped = Campaign.objects.get(pk=cancelled.pk)
        assert (stopped.skipped, stopped.not_sent, stopped.attempted) == (1, 4, 1)
        assert Campaign.objects.get(pk=completed.pk).skipped == 1
        assert Delivery.objects.filter(status="not_sent").count() == 4
        assert set(Delivery.objects.filter(status="skipped").values_list("reason", flat=True)) == {
            "opted_out",
            "frequency_cap",
        }
        kept = apps.get_model("analytics", "CampaignReport").objects.get(campaign_id=stopped.pk)
        assert kept.counters == [1, 1, 0, 1, 4]  # the migrated campaign's counters: still current
        assert kept.status_counts == {"sent": 1, "skipped": 1, "not_sent": 4}
        assert kept.skips == [{"reason": "opted_out", "count": 1}]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
