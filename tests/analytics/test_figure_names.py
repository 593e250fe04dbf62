"""One name for the figure LINE accepted: "Successfully sent", counted against the recipients
that were attempted (skipped recipients are never attempted, so they are not in the total)."""

import re

from django.urls import reverse

from campaigns.models import Campaign
from tests.analytics import factories


def _header_cells(html: str, table_marker: str) -> list[str]:
    table = html.split(table_marker, 1)[1].split("</thead>", 1)[0]
    return re.findall(r"<th[^>]*>(.*?)</th>", table)


def test_overview_table_names_the_figure_successfully_sent(db, analyst_client):
    factories.campaign(factories.connection())
    html = analyst_client.get(reverse("analytics_overview")).content.decode()
    headers = _header_cells(html, 'id="campaigns"')
    assert "Successfully sent" in headers
    assert "Sent" not in headers


def test_campaign_list_shows_successfully_sent_of_attempted_not_of_all_recipients(
    db, analyst_client
):
    c = factories.campaign(factories.connection())  # MIXED: 12 sent, 24 attempted, 4 skipped
    assert (c.sent, c.attempted, c.skipped, c.recipients_total) == (12, 24, 4, 28)

    html = analyst_client.get(reverse("campaign_list")).content.decode()
    headers = _header_cells(html, "<table")
    assert "Successfully sent" in headers
    assert not any("total" in h for h in headers)
    assert "12 of 24 attempted" in html
    assert "of 28" not in html


def test_campaign_list_says_none_attempted_for_a_draft(db, analyst_client):
    conn = factories.connection()
    Campaign.objects.create(name="Draft", connection=conn, messages=[{"type": "text"}])
    html = analyst_client.get(reverse("campaign_list")).content.decode()
    assert "None attempted" in html
    assert "0 of 0" not in html
