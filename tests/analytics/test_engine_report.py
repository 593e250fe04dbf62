"""A real campaign sent by the engine to the emulator: the report agrees with what LINE
(the emulator) accepted and with the delivery rows, and LINE's statistics are fetched for the
campaign's aggregation unit."""

import pytest
from django.urls import reverse

from analytics import services
from analytics.models import CampaignInsight
from tests.analytics.pages import csv_figures, csv_rows, report_figures
from tests.campaigns.engine_support import (
    drain,
    fast_engine,  # noqa: F401
    launch,
    make_connection,
    make_contacts,
)

pytestmark = pytest.mark.usefixtures("fast_engine")

MESSAGES = [{"type": "text", "text": "Your code: {{ coupon }}"}]


def test_report_of_a_sent_campaign_matches_what_line_accepted(emulator, marketer, analyst_client):
    connection = make_connection(emulator)
    make_contacts(25, attributes=lambda i: {"coupon": f"C{i}"})
    make_contacts(2, start=25, attributes=lambda i: {})  # no coupon: personalization fails
    make_contacts(3, start=27, opted_out=True)  # skipped
    campaign = drain(launch(marketer, connection, messages=MESSAGES))
    accepted = len(emulator.messages())
    assert campaign.status == "completed" and accepted == 25

    page = analyst_client.get(reverse("analytics_campaign_report", args=[campaign.pk]))
    figures = report_figures(page.content.decode())
    assert figures["sent"] == accepted
    assert figures["failed"] == 2
    assert figures["attempted"] == figures["sent"] + figures["failed"]
    api = analyst_client.get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    assert {k: api[k] for k in figures} == figures
    assert sum(p["sent"] for p in api["timeline"]["points"]) == accepted
    assert [(f["reason"], f["count"]) for f in api["failures"]] == [("personalization", 2)]
    rows = csv_rows(analyst_client.get(f"/api/v1/campaigns/{campaign.pk}/deliveries.csv"))
    assert csv_figures(rows) == figures
    assert {r["line_id"] for r in rows if r["status"] == "sent"} == {
        e["to"] for e in emulator.messages()
    }

    assert campaign.aggregation_unit
    assert services.line_statistics_sync() == 1
    insight = CampaignInsight.objects.get(campaign=campaign)
    assert insight.fetched_at is not None
    assert insight.unique_impression is None  # 25 * 62 % = 15: under 20, hidden by LINE
