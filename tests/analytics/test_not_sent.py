"""Recipients a cancel or an expiry left untried are "Not sent (cancelled / expired)", apart
from the recipients skipped on purpose, on every page, in the CSV and in the API; after a
cancel the campaign shows its final split at once, never "pending"."""

import re

import pytest
from django.urls import reverse

from campaigns.services import campaign_cancel
from tests.analytics import factories
from tests.analytics.pages import csv_figures, csv_rows, overview_row, overview_totals
from tests.campaigns.engine_support import (
    act_mid_send,
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    make_connection,
    make_contacts,
    row_counts,
)

GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]
FIGURE = re.compile(r'data-figure="(\w+)">(\d+)<')


def progress_section(html: str) -> str:
    return html.split('<section id="progress"')[1].split("</section>")[0]


def page_figures(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in FIGURE.findall(progress_section(html))}


@pytest.fixture
def stopped(db):
    """A cancelled campaign: 2 sent, 1 failed, 3 never tried, 1 opted out, 2 still in flight."""
    return factories.campaign(
        factories.connection(),
        status="cancelled",
        outcomes=[
            ("sent", "", 200, "", 1, 2),
            ("failed", "invalid_request", 400, "The request body has 1 error(s)", 1, 1),
            ("not_sent", "cancelled", None, "", 0, 3),
            ("skipped", "opted_out", None, "", 0, 1),
            ("sending", "", None, "", 1, 2),
        ],
    )


@pytest.mark.usefixtures("fast_engine")
def test_cancel_mid_send_shows_the_final_split_at_once_and_never_pending(
    emulator, marketer, marketer_client, monkeypatch, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 20
    settings.CAMPAIGN_SEND_CONCURRENCY = 2
    emulator.configure(latency_ms=20)
    connection = make_connection(emulator)
    make_contacts(60)
    campaign = launch(marketer, connection, messages=GREETING)
    seen = []

    def cancel_and_look(c) -> None:
        campaign_cancel(campaign=c, user=marketer)
        seen.append(marketer_client.get(f"/campaigns/{c.pk}/").content.decode())

    act_mid_send(monkeypatch, cancel_and_look)
    campaign = drain(campaign)

    during = progress_section(seen[0])
    figures = page_figures(seen[0])
    in_flight = int(re.search(r'data-testid="in-flight">Finishing (\d+) recipient', during)[1])
    assert "pending" not in during and "Share of recipients done" not in during
    assert "Not sent (cancelled)" in during
    assert figures["not_sent"] >= 20  # the batches not started yet, at once
    assert figures["sent"] + figures["failed"] + figures["not_sent"] + in_flight == 60
    assert 'hx-trigger="every 2s"' in seen[0]

    after = marketer_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "pending" not in progress_section(after) and "Finishing" not in after
    assert "hx-trigger" not in after
    sent = sum(ledger(emulator).values())
    assert page_figures(after) == {
        "attempted": sent,
        "sent": sent,
        "failed": 0,
        "not_sent": 60 - sent,
        "skipped": 0,
    }
    assert counters(campaign) == row_counts(campaign)


def test_campaign_page_after_cancel_says_what_is_in_flight_not_pending(stopped, analyst_client):
    html = analyst_client.get(f"/campaigns/{stopped.pk}/").content.decode()
    section = progress_section(html)
    assert "pending" not in section and "Share of recipients done" not in section
    assert "Finishing 2 recipients a worker still held when it was cancelled" in section
    assert 'hx-trigger="every 2s"' in html
    assert page_figures(html) == {
        "attempted": 3,
        "sent": 2,
        "failed": 1,
        "not_sent": 3,
        "skipped": 1,
    }


def test_report_after_cancel_keeps_updating_until_the_in_flight_rows_settle(
    stopped, analyst_client
):
    report = analyst_client.get(reverse("analytics_campaign_report", args=[stopped.pk]))
    html = report.content.decode()
    assert "Finishing 2 recipients" in html and "recipients done" not in html
    assert 'hx-trigger="every 2s' in html

    stopped.deliveries.filter(status="sending").update(status="sent")
    factories.counters_from_rows(stopped)
    url = reverse("analytics_campaign_progress", args=[stopped.pk])
    assert analyst_client.get(url, {"live": 1}).headers["HX-Refresh"] == "true"
    final = analyst_client.get(reverse("analytics_campaign_report", args=[stopped.pk]))
    assert "Finishing" not in final.content.decode()
    assert "hx-trigger" not in final.content.decode()


def test_not_sent_is_apart_from_skipped_in_the_overview_csv_and_api(stopped, analyst_client):
    stopped.deliveries.filter(status="sending").update(status="sent")
    factories.counters_from_rows(stopped)
    expected = factories.row_counts(stopped)
    assert (expected["not_sent"], expected["skipped"]) == (3, 1)

    overview = analyst_client.get(reverse("analytics_overview")).content.decode()
    assert overview_row(overview, stopped.pk) == expected
    totals = overview_totals(overview)
    assert (totals["not_sent"], totals["skipped"]) == (3, 1)
    assert "Not sent (cancelled / expired)" in overview

    rows = csv_rows(analyst_client.get(reverse("analytics_delivery_export", args=[stopped.pk])))
    assert csv_figures(rows) == expected
    assert {r["reason"] for r in rows if r["status"] == "not_sent"} == {"cancelled"}

    report = analyst_client.get(f"/api/v1/campaigns/{stopped.pk}/report").json()
    assert (report["not_sent"], report["skipped"]) == (3, 1)
    assert report["attempted"] == report["sent"] + report["failed"]
    assert [s["reason"] for s in report["skips"]] == ["opted_out"]
    campaign = analyst_client.get(f"/api/v1/campaigns/{stopped.pk}").json()
    assert (campaign["not_sent"], campaign["skipped"]) == (3, 1)

    listing = analyst_client.get(reverse("campaign_list")).content.decode()
    assert "3 not sent (cancelled)" in listing
