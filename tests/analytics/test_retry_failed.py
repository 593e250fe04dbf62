"""Retry failed: a new draft, linked to the campaign, to the recipients a retry can help."""

import pytest
from django.urls import reverse

from analytics.selectors import RETRYABLE_REASONS
from campaigns.models import Campaign, Delivery
from linecampaigns.models import AuditEntry
from tests.analytics import factories


@pytest.fixture
def completed(db):
    return factories.campaign(factories.connection(), name="Autumn sale")


def _retry(client, campaign):
    return client.post(reverse("analytics_campaign_retry", args=[campaign.pk]))


def test_marketer_gets_a_linked_draft_to_the_retryable_failures_only(
    completed, marketer_client, marketer
):
    response = _retry(marketer_client, completed)

    retry = Campaign.objects.get(parent=completed)
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{retry.pk}/review/"
    assert retry.status == Campaign.Status.DRAFT
    assert retry.audience_type == Campaign.Audience.EXPLICIT
    assert retry.messages == completed.messages and retry.connection == completed.connection
    retryable = Delivery.objects.filter(
        campaign=completed, status="failed", reason__in=RETRYABLE_REASONS
    )
    assert sorted(retry.explicit_ids) == sorted(retryable.values_list("line_id", flat=True))
    assert len(retry.explicit_ids) == 8  # rate limit 3, 5xx 2, timeout, connection, unknown
    permanent = Delivery.objects.filter(
        campaign=completed, reason__in=("invalid_request", "not_found", "personalization")
    ).values_list("line_id", flat=True)
    assert not set(permanent) & set(retry.explicit_ids)
    entry = AuditEntry.objects.get(action="campaign.retry_failed")
    assert entry.actor == marketer
    assert entry.details["permanent_failures_excluded"] == 4


def test_report_lists_the_permanent_failures_that_are_not_retried(completed, marketer_client):
    html = marketer_client.get(
        reverse("analytics_campaign_report", args=[completed.pk])
    ).content.decode()
    assert 'id="retryable-count">8<' in html
    permanent = html.split('id="permanent-failures"')[1].split("</ul>")[0]
    assert "Invalid request (400)" in permanent
    assert "Recipient not found (404)" in permanent
    assert "Personalization failed" in permanent
    assert "Rate limit" not in permanent
    assert "Retry 8 failed" in html


def test_analyst_cannot_retry(completed, analyst_client):
    assert _retry(analyst_client, completed).status_code == 403
    assert not Campaign.objects.filter(parent=completed).exists()
    page = analyst_client.get(reverse("analytics_campaign_report", args=[completed.pk]))
    assert b"Retry 8 failed" not in page.content


def test_only_a_completed_campaign_can_be_retried(db, marketer_client):
    paused = factories.campaign(factories.connection(), status="paused")
    _retry(marketer_client, paused)
    assert not Campaign.objects.filter(parent=paused).exists()


def test_nothing_to_retry_when_every_failure_is_permanent(db, marketer_client):
    c = factories.campaign(
        factories.connection(),
        outcomes=[("sent", "", 200, "", 1, 3), ("failed", "not_found", 404, "Not found", 1, 2)],
    )
    response = _retry(marketer_client, c)
    assert response.status_code == 302
    assert not Campaign.objects.filter(parent=c).exists()


def test_a_second_retry_is_refused_while_the_first_is_open(completed, marketer_client):
    _retry(marketer_client, completed)
    _retry(marketer_client, completed)
    assert Campaign.objects.filter(parent=completed).count() == 1


def test_retry_needs_a_post(completed, marketer_client):
    response = marketer_client.get(reverse("analytics_campaign_retry", args=[completed.pk]))
    assert response.status_code == 405
