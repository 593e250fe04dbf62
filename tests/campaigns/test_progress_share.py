"""The campaign page and the report show the same progress: recipients done (attempted or
skipped, since a skipped row is settled too) over all the campaign's delivery rows."""

import re

from django.urls import reverse

from tests.analytics import factories


def _half_settled_campaign():
    return factories.campaign(
        factories.connection(),
        status="sending",
        outcomes=[
            ("sent", "", 200, "", 1, 3),
            ("failed", "invalid_request", 400, "The request body has 1 error(s)", 1, 1),
            ("skipped", "opted_out", None, "", 0, 2),
            ("pending", "", None, "", 0, 4),
        ],
    )


def test_campaign_page_counts_skipped_rows_as_done_out_of_all_recipients(db, analyst_client):
    c = _half_settled_campaign()  # 4 attempted + 2 skipped of 10 rows
    html = analyst_client.get(reverse("campaign_detail", args=[c.pk])).content.decode()
    bar = re.search(r'aria-label="Share of recipients done" aria-valuenow="(\d+)"', html)
    assert bar.group(1) == "60"
    assert "4 pending" in html


def test_campaign_page_and_report_agree_on_progress(db, analyst_client):
    c = _half_settled_campaign()
    page = analyst_client.get(reverse("campaign_detail", args=[c.pk])).content.decode()
    report = analyst_client.get(reverse("analytics_campaign_report", args=[c.pk])).content.decode()
    page_percent = re.search(r'Share of recipients done" aria-valuenow="(\d+)"', page).group(1)
    report_percent = re.search(r'Campaign progress"[^>]*aria-valuenow="([\d.]+)"', report).group(1)
    assert float(report_percent) == float(page_percent) == 60
    assert "6 of 10 recipients done (60.0%)" in report
