"""Every page that shows a campaign's figures gives the same numbers, equal to counts over
its delivery rows."""

import pytest
from django.urls import reverse

from analytics import tasks
from analytics.models import CampaignReport
from tests.analytics import factories
from tests.analytics.pages import (
    csv_figures,
    csv_rows,
    overview_row,
    overview_totals,
    report_figures,
)

FIGURES = ("attempted", "sent", "failed", "skipped", "not_sent")


@pytest.fixture
def mixed(db):
    conn = factories.connection()
    first = factories.campaign(conn, name="Autumn sale")
    second = factories.campaign(
        conn,
        name="Winter teaser",
        outcomes=[
            ("sent", "", 200, "", 1, 4),
            ("failed", "server_error", 502, "Bad gateway", 5, 2),
            ("skipped", "opted_out", None, "", 0, 3),
        ],
    )
    return first, second


def test_report_page_json_csv_and_overview_agree_with_the_delivery_rows(mixed, analyst_client):
    first, second = mixed
    expected = factories.row_counts(first)
    assert expected == {"attempted": 24, "sent": 12, "failed": 12, "skipped": 4, "not_sent": 0}

    page = analyst_client.get(reverse("analytics_campaign_report", args=[first.pk]))
    assert page.status_code == 200
    assert report_figures(page.content.decode()) == expected

    data = analyst_client.get(f"/api/v1/campaigns/{first.pk}/report").json()
    assert {k: data[k] for k in FIGURES} == expected
    assert sum(f["count"] for f in data["failures"]) == expected["failed"]
    assert sum(s["count"] for s in data["skips"]) == expected["skipped"]
    assert sum(p["sent"] for p in data["timeline"]["points"]) == expected["sent"]

    attempted = analyst_client.get(
        reverse("analytics_delivery_export", args=[first.pk]), {"status": "attempted"}
    )
    assert len(csv_rows(attempted)) == expected["attempted"]

    for url in (
        reverse("analytics_delivery_export", args=[first.pk]),
        f"/api/v1/campaigns/{first.pk}/deliveries.csv",
    ):
        rows = csv_rows(analyst_client.get(url))
        assert len(rows) == first.recipients_total
        assert csv_figures(rows) == expected

    overview = analyst_client.get(reverse("analytics_overview")).content.decode()
    assert overview_row(overview, first.pk) == expected
    second_expected = factories.row_counts(second)
    assert overview_row(overview, second.pk) == second_expected
    totals = overview_totals(overview)
    assert {k: totals[k] for k in FIGURES} == {k: expected[k] + second_expected[k] for k in FIGURES}
    assert totals["campaigns"] == 2

    campaigns = analyst_client.get(reverse("campaign_list")).content.decode()
    row = campaigns.split(f'href="{reverse("campaign_detail", args=[first.pk])}"')[1]
    row = row.split("</tr>")[0]
    assert f"{expected['sent']} of {expected['attempted']} attempted" in row


def test_failure_breakdown_groups_by_status_and_line_message_and_links_to_the_rows(
    mixed, analyst_client
):
    first, _ = mixed
    data = analyst_client.get(f"/api/v1/campaigns/{first.pk}/report").json()
    rate_limited = next(f for f in data["failures"] if f["reason"] == "rate_limit")
    assert (rate_limited["http_status"], rate_limited["count"]) == (429, 3)
    assert rate_limited["error_message"] == factories.RATE_LIMIT_MSG

    html = analyst_client.get(reverse("analytics_campaign_report", args=[first.pk])).content
    assert b"status=failed&amp;reason=rate_limit&amp;http_status=429" in html

    log = analyst_client.get(
        reverse("analytics_delivery_log", args=[first.pk]),
        {
            "status": "failed",
            "reason": "rate_limit",
            "http_status": "429",
            "error_message": factories.RATE_LIMIT_MSG,
        },
    )
    rows = log.context["rows"]
    assert len(rows) == 3 and {(d.reason, d.http_status) for d in rows} == {("rate_limit", 429)}


def test_settled_campaign_figures_are_counted_once_and_kept(mixed, analyst_client):
    first, _ = mixed
    analyst_client.get(reverse("analytics_campaign_report", args=[first.pk]))
    assert not CampaignReport.objects.filter(campaign=first).exists()  # a read keeps nothing
    tasks.materialize_reports()
    kept = CampaignReport.objects.get(campaign=first)
    assert kept.status_counts == {"sent": 12, "failed": 12, "skipped": 4}
    assert sum(n for _, n in kept.timeline) == 12


def test_report_warns_when_the_counters_disagree_with_the_rows(db, analyst_client):
    c = factories.campaign(factories.connection())
    type(c).objects.filter(pk=c.pk).update(sent=c.sent + 1, attempted=c.attempted + 1)
    page = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk]))
    assert b"disagree with its delivery rows" in page.content


def test_counters_agreeing_with_rows_show_no_warning(mixed, analyst_client):
    first, _ = mixed
    page = analyst_client.get(reverse("analytics_campaign_report", args=[first.pk]))
    assert b"disagree with its delivery rows" not in page.content
