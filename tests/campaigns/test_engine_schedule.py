"""Scheduled campaigns start when due (beat); past the send-by deadline they expire."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.services import campaign_resume, campaigns_start_due
from tests.campaigns.engine_support import (
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    make_contacts,
    row_counts,
)

HELLO = [{"type": "text", "text": "Hello {{ display_name }}"}]

pytestmark = pytest.mark.usefixtures("fast_engine")


def test_a_scheduled_campaign_waits_then_starts_when_due(emulator, connection, marketer):
    make_contacts(3)
    later = timezone.now() + datetime.timedelta(hours=2)
    campaign = launch(marketer, connection, messages=HELLO, scheduled_at=later)
    assert campaign.status == Campaign.Status.SCHEDULED

    assert campaigns_start_due() == {"started": 0, "expired": 0}
    assert not Delivery.objects.filter(campaign=campaign).exists()

    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert campaigns_start_due()["started"] == 1
    campaign = drain(campaign)
    assert campaign.status == Campaign.Status.COMPLETED
    assert sum(ledger(emulator).values()) == 3


def test_a_scheduled_campaign_past_its_send_by_deadline_expires_unsent(
    emulator, connection, marketer
):
    make_contacts(3)
    now = timezone.now()
    campaign = launch(
        marketer,
        connection,
        messages=HELLO,
        scheduled_at=now + datetime.timedelta(hours=1),
        send_by=now + datetime.timedelta(hours=2),
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        scheduled_at=now - datetime.timedelta(hours=3), send_by=now - datetime.timedelta(hours=1)
    )
    assert campaigns_start_due() == {"started": 0, "expired": 1}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.EXPIRED
    assert ledger(emulator) == {}


def test_rows_never_attempted_by_the_deadline_are_not_sent_as_expired(
    emulator, connection, marketer
):
    make_contacts(6)
    campaign = launch(
        marketer, connection, messages=HELLO, send_by=timezone.now() + datetime.timedelta(hours=1)
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        send_by=timezone.now() - datetime.timedelta(seconds=1)
    )
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.EXPIRED
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("status", "reason")) == {("not_sent", "expired")}
    assert ledger(emulator) == {}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.not_sent == 6 and campaign.skipped == campaign.attempted == 0


def test_on_expiry_refused_rows_keep_their_failure_and_unattempted_rows_are_not_sent(
    emulator, connection, marketer, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 10
    make_contacts(25)
    campaign = launch(
        marketer, connection, messages=HELLO, send_by=timezone.now() + datetime.timedelta(hours=1)
    )
    emulator.configure(monthly_quota=10)
    campaign = drain(campaign)
    assert campaign.status == Campaign.Status.PAUSED

    Campaign.objects.filter(pk=campaign.pk).update(
        send_by=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert campaigns_start_due()["expired"] == 1
    campaign.refresh_from_db()
    rows = Delivery.objects.filter(campaign=campaign)
    assert campaign.status == Campaign.Status.EXPIRED
    assert rows.filter(status="sent").count() == sum(ledger(emulator).values()) == 10
    refused = rows.filter(status="failed")
    assert refused.exists()
    assert set(refused.values_list("reason", "http_status")) == {("monthly_limit", 429)}
    assert not refused.filter(attempts=0).exists()
    not_sent = rows.filter(status="not_sent")
    assert not_sent.count() >= 5 and not rows.filter(status="skipped").exists()
    assert set(not_sent.values_list("reason", "attempts")) == {("expired", 0)}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.attempted == campaign.sent + campaign.failed


def test_a_due_campaign_is_checked_again_and_paused_with_the_reason_if_it_cannot_go(
    emulator, connection, marketer
):
    """Between scheduling and the due time the quota can run out: LINE would refuse every
    message, so the campaign is paused before sending, says why, and resumes once fixed."""
    make_contacts(3)
    later = timezone.now() + datetime.timedelta(hours=2)
    campaign = launch(marketer, connection, messages=HELLO, scheduled_at=later)
    emulator.configure(monthly_quota=1)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())

    assert campaigns_start_due() == {"started": 0, "expired": 0}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "Not started at its scheduled time" in campaign.pause_reason
    assert "quota" in campaign.pause_reason
    assert not Delivery.objects.filter(campaign=campaign).exists() and ledger(emulator) == {}

    emulator.configure(monthly_quota=1000)
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))
    assert (campaign.status, campaign.sent) == (Campaign.Status.COMPLETED, 3)
