"""Scheduled campaigns start when due (beat); past the send-by deadline they expire."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.services import campaigns_start_due
from tests.campaigns.engine_support import (
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    make_connection,
    make_contacts,
    row_counts,
)

HELLO = [{"type": "text", "text": "Hello {{ display_name }}"}]

pytestmark = pytest.mark.usefixtures("fast_engine")


@pytest.fixture
def connection(db, emulator):
    return make_connection(emulator)


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


def test_rows_not_sent_by_the_deadline_fail_as_expired(emulator, connection, marketer):
    make_contacts(6)
    campaign = launch(
        marketer, connection, messages=HELLO, send_by=timezone.now() + datetime.timedelta(hours=1)
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        send_by=timezone.now() - datetime.timedelta(seconds=1)
    )
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.EXPIRED
    assert set(Delivery.objects.filter(campaign=campaign).values_list("reason", flat=True)) == {
        "expired"
    }
    assert ledger(emulator) == {}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.attempted == campaign.failed == 6
