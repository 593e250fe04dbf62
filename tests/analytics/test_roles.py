"""Every role reads analytics; anonymous users are sent to the login page."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.analytics import factories


@pytest.fixture
def campaign(db):
    return factories.campaign(factories.connection())


def _urls(campaign) -> list[str]:
    return [
        reverse("analytics_overview"),
        reverse("analytics_campaign_report", args=[campaign.pk]),
        reverse("analytics_campaign_progress", args=[campaign.pk]),
        reverse("analytics_delivery_log", args=[campaign.pk]),
        reverse("analytics_delivery_export", args=[campaign.pk]),
        f"/api/v1/campaigns/{campaign.pk}/report",
        f"/api/v1/campaigns/{campaign.pk}/deliveries.csv",
    ]


@pytest.mark.parametrize("who", ["admin_client", "marketer_client", "analyst_client"])
def test_every_role_reads_every_analytics_page(campaign, who, request):
    client = request.getfixturevalue(who)
    for url in _urls(campaign):
        assert client.get(url).status_code == 200, url


def test_anonymous_users_are_sent_to_log_in(campaign):
    client = Client()
    for url in _urls(campaign)[:5]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(_urls(campaign)[5]).status_code == 401


def test_api_report_with_a_bearer_token(campaign, analyst, api_client_for):
    response = api_client_for(analyst).get(f"/api/v1/campaigns/{campaign.pk}/report")
    assert response.status_code == 200
    assert response.json()["sent"] == campaign.sent


def test_unknown_campaign_is_404(db, analyst_client):
    assert analyst_client.get(reverse("analytics_campaign_report", args=[999])).status_code == 404
    assert analyst_client.get("/api/v1/campaigns/999/report").status_code == 404


@pytest.mark.parametrize(
    ("who", "linked"),
    [("admin_client", True), ("marketer_client", False), ("analyst_client", False)],
)
def test_quota_table_links_connections_only_for_those_who_may_open_them(
    campaign, who, linked, request
):
    client = request.getfixturevalue(who)
    page = client.get(reverse("analytics_overview")).content.decode()
    link = f'href="/connections/{campaign.connection_id}/"'
    assert campaign.connection.name in page.split('id="quota-title"')[1]
    assert (link in page) is linked
    assert (client.get(f"/connections/{campaign.connection_id}/").status_code == 200) is linked
