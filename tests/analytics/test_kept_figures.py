"""A settled campaign's grouped figures are counted once by the beat task and kept; they are
counted again if the campaign's counters ever change. A read never writes them: until the task
keeps them, the report counts them on each read (docs/design.md §3.1)."""

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import tasks
from analytics.models import CampaignReport
from campaigns.models import Campaign, Delivery
from tests.analytics import factories
from tests.analytics.pages import report_figures


def test_beat_task_keeps_figures_of_settled_campaigns_only(db):
    conn = factories.connection()
    done = factories.campaign(conn)
    sending = factories.campaign(conn, status="sending")
    in_flight = factories.campaign(
        conn, status="cancelled", outcomes=[("sending", "", None, "", 1, 2)]
    )

    assert tasks.materialize_reports() == 1

    kept = CampaignReport.objects.get()
    assert kept.campaign == done
    assert kept.counters == [done.attempted, done.sent, done.failed, done.skipped, done.not_sent]
    assert not CampaignReport.objects.filter(campaign__in=[sending, in_flight]).exists()
    assert tasks.materialize_reports() == 0


def test_kept_figures_are_recounted_when_the_counters_change(db, analyst_client):
    c = factories.campaign(factories.connection())
    tasks.materialize_reports()
    row = Delivery.objects.filter(campaign=c, reason="timeout").get()
    Delivery.objects.filter(pk=row.pk).update(status="sent", reason="", http_status=200)
    factories.counters_from_rows(c)

    data = analyst_client.get(f"/api/v1/campaigns/{c.pk}/report").json()

    assert data["sent"] == 13 and data["failed"] == 11
    assert sum(p["sent"] for p in data["timeline"]["points"]) == 13
    assert "timeout" not in {f["reason"] for f in data["failures"]}
    assert CampaignReport.objects.get(campaign=c).status_counts["sent"] == 12  # read only
    assert tasks.materialize_reports() == 1
    assert CampaignReport.objects.get(campaign=c).status_counts["sent"] == 13
    assert Campaign.objects.get(pk=c.pk).sent == 13


def test_report_of_a_settled_campaign_reads_no_delivery_row_once_kept(db, analyst_client):
    c = factories.campaign(factories.connection())
    tasks.materialize_reports()
    with CaptureQueriesContext(db_connection) as queries:
        page = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk]))
    assert page.status_code == 200
    assert not [q["sql"] for q in queries if "campaigns_delivery" in q["sql"]]


WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def test_reading_a_report_writes_nothing_and_the_task_keeps_the_same_figures(db, analyst_client):
    """A finished campaign without kept figures is counted on the read, not saved; the beat task
    keeps them, and the page and the API show the same figures before and after."""
    c = factories.campaign(factories.connection())
    page_url = reverse("analytics_campaign_report", args=[c.pk])
    api_url = f"/api/v1/campaigns/{c.pk}/report"

    with CaptureQueriesContext(db_connection) as queries:
        page = analyst_client.get(page_url)
        api = analyst_client.get(api_url)
        overview = analyst_client.get(reverse("analytics_overview"))
    assert (page.status_code, api.status_code, overview.status_code) == (200, 200, 200)
    assert _writes(queries) == []
    assert not CampaignReport.objects.filter(campaign=c).exists()

    assert tasks.materialize_reports() == 1
    with CaptureQueriesContext(db_connection) as queries:
        kept_page = analyst_client.get(page_url)
        kept_api = analyst_client.get(api_url)
    assert _writes(queries) == []
    assert kept_api.json() == api.json()
    assert report_figures(kept_page.content.decode()) == report_figures(page.content.decode())
    assert kept_page.context["report"].failures == page.context["report"].failures
    assert kept_page.context["timeline"] == page.context["timeline"]
