"""Retry failed: a new draft, linked to the campaign, to the recipients a retry can help."""

from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from audiences.models import Contact
from campaigns.engine.snapshot import audience_contacts
from campaigns.models import RETRYABLE_REASONS, Campaign, Delivery
from campaigns.services import campaign_launch
from kit.models import AuditEntry
from tests.analytics import factories
from tests.campaigns.engine_support import (
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_connection,
    make_contacts,
    row_counts,
)


@pytest.fixture
def completed(db):
    return factories.campaign(factories.connection(), name="Autumn sale")


def entry_recipients(retry: Campaign) -> int:
    return AuditEntry.objects.get(action="campaign.retry_failed").details["recipients"]


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
    assert retry.audience_type == Campaign.Audience.RETRY and retry.explicit_ids == []
    assert retry.messages == completed.messages and retry.connection == completed.connection
    retryable = Delivery.objects.filter(
        campaign=completed, status="failed", reason__in=RETRYABLE_REASONS
    )
    audience = set(audience_contacts(retry).values_list("line_id", flat=True))
    assert audience == set(retryable.values_list("line_id", flat=True))
    assert len(audience) == 8  # rate limit 3, 5xx 2, timeout, connection, unknown
    permanent = Delivery.objects.filter(
        campaign=completed, reason__in=("invalid_request", "not_found", "personalization")
    ).values_list("line_id", flat=True)
    assert not set(permanent) & audience
    assert entry_recipients(retry) == 8
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


@pytest.mark.usefixtures("fast_engine")
def test_a_retry_sends_once_to_the_failed_recipients_who_are_still_reachable(
    start_emulator, marketer, marketer_client, settings
):
    """Through the engine and the emulator: a campaign whose sends all fail with server errors,
    then its retry, launched after LINE recovers, reaches each failed recipient exactly once;
    someone who opted out meanwhile is skipped and a deleted contact is left out."""
    settings.CAMPAIGN_MAX_ATTEMPTS = 2
    emulator = start_emulator(fault_rate=1.0, fault_hold_s=0)
    connection = make_connection(emulator)
    make_contacts(6)
    first = drain(launch(marketer, connection, messages=[{"type": "text", "text": "Hi"}]))
    assert (first.status, first.failed, first.sent) == (Campaign.Status.COMPLETED, 6, 0)
    assert ledger(emulator) == {}

    Contact.objects.filter(line_id=line_id(4)).update(opted_out=True)
    Contact.objects.filter(line_id=line_id(5)).delete()
    _retry(marketer_client, first)
    retry = Campaign.objects.get(parent=first)
    review = marketer_client.get(f"/campaigns/{retry.pk}/review/").content.decode()
    assert "Failed recipients of" in review and first.name in review
    edit = marketer_client.get(f"/campaigns/{retry.pk}/edit/").content.decode()
    assert f"The failed recipients of “{first.name}”" in edit

    emulator.configure(fault_rate=0)
    retry = drain(campaign_launch(campaign=retry, user=marketer))
    assert retry.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(4)}
    assert counters(retry) == row_counts(retry)
    assert (retry.sent, retry.skipped, retry.recipients_total) == (4, 1, 5)


def test_once_retried_the_report_links_to_the_retry_instead_of_offering_it(
    completed, marketer_client
):
    _retry(marketer_client, completed)
    retry = Campaign.objects.get(parent=completed)
    url = reverse("analytics_campaign_report", args=[completed.pk])

    html = marketer_client.get(url).content.decode()
    assert "Retry 8 failed" not in html
    retried = html.split('id="retried-in"')[1].split("</p>")[0]
    assert f'href="/campaigns/{retry.pk}/"' in retried and f"“{retry.name}”" in retried

    # A cancelled retry no longer blocks a new one: the offer comes back.
    Campaign.objects.filter(pk=retry.pk).update(status=Campaign.Status.CANCELLED)
    html = marketer_client.get(url).content.decode()
    assert "Retry 8 failed" in html and 'id="retried-in"' not in html


@pytest.mark.usefixtures("fast_engine")
def test_a_retry_keeps_the_retry_key_of_a_push_line_may_have_accepted(
    start_emulator, marketer, marketer_client, settings
):
    """A push that got no answer may still have reached the phone. Its retry reuses the key, so
    LINE answers 409 (counted as sent) instead of delivering twice. Past LINE's 24 hours the key
    is forgotten, and a retry sends anew: the Marketer asked to retry unknown outcomes."""
    settings.CAMPAIGN_MAX_ATTEMPTS = 2
    emulator = start_emulator(fault_rate=1.0, fault_hold_s=0)
    connection = make_connection(emulator)
    make_contacts(3)
    hello = [{"type": "text", "text": "Hi {{ first_name }}"}]
    first = drain(launch(marketer, connection, messages=hello))
    assert (first.send_mode, first.failed) == ("push", 3)
    rows = {r.line_id: r for r in Delivery.objects.filter(campaign=first)}
    assert all(r.first_attempt_at for r in rows.values())  # no answer: LINE may have it

    emulator.configure(fault_rate=0)
    accepted = httpx.post(  # LINE did take the first one; its answer was what got lost
        f"{emulator.base_url}/v2/bot/message/push",
        json={"to": line_id(0), "messages": [{"type": "text", "text": "Hi Name0"}]},
        headers={
            "Authorization": f"Bearer {emulator.token}",
            "X-Line-Retry-Key": str(rows[line_id(0)].retry_key),
        },
    )
    assert accepted.status_code == 200
    Delivery.objects.filter(pk=rows[line_id(2)].pk).update(
        first_attempt_at=timezone.now() - timedelta(hours=25)
    )

    _retry(marketer_client, first)
    retry = drain(campaign_launch(campaign=Campaign.objects.get(parent=first), user=marketer))

    assert retry.send_mode == "push"
    done = {r.line_id: r for r in Delivery.objects.filter(campaign=retry)}
    assert (done[line_id(0)].status, done[line_id(0)].http_status) == ("sent", 409)
    assert done[line_id(0)].retry_key == rows[line_id(0)].retry_key
    assert (done[line_id(1)].status, done[line_id(1)].http_status) == ("sent", 200)
    assert done[line_id(2)].status == "sent"
    assert done[line_id(2)].retry_key != rows[line_id(2)].retry_key
    assert ledger(emulator) == {line_id(0): 1, line_id(1): 1, line_id(2): 1}
    assert counters(retry) == row_counts(retry)
