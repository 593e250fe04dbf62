"""An Analyst reads why "Retry failed" is not offered to them, rather than finding no button."""

import pytest
from django.urls import reverse

from tests.analytics import factories

NOTE = "Only Marketers and Admins can retry failed recipients"


@pytest.fixture
def completed(db):
    return factories.campaign(factories.connection(), name="Autumn sale")


def report(client, campaign) -> str:
    return client.get(reverse("analytics_campaign_report", args=[campaign.pk])).content.decode()


def test_an_analyst_sees_why_retry_failed_is_not_offered(completed, analyst_client):
    page = report(analyst_client, completed)
    assert NOTE in page
    assert "Retry 8 failed" not in page


@pytest.mark.parametrize("who", ["marketer_client", "admin_client"])
def test_those_who_may_retry_get_the_button_and_no_note(completed, who, request):
    page = report(request.getfixturevalue(who), completed)
    assert "Retry 8 failed" in page
    assert NOTE not in page


def test_no_note_when_there_is_nothing_to_retry(db, analyst_client):
    paused = factories.campaign(factories.connection(), status="paused")
    assert NOTE not in report(analyst_client, paused)
