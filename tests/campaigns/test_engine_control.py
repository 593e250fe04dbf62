"""Pause, resume and cancel between requests; LINE's monthly limit and a 401 pause by themselves."""

import datetime

import pytest
from django.db.models import F

from campaigns.engine import lifecycle
from campaigns.models import Campaign, Delivery, DeliveryBatch
from campaigns.services import (
    CampaignError,
    LaunchBlocked,
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resume,
)
from connections.models import Connection
from connections.services import connection_check
from kit.models import AuditEntry
from tests.campaigns.engine_support import (
    act_mid_send,
    counters,
    drain,
    fast_engine,  # noqa: F401
    launch,
    ledger,
    line_id,
    make_contacts,
    row_counts,
)

GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]
N = 40

pytestmark = pytest.mark.usefixtures("fast_engine")


@pytest.fixture
def slow_sends(emulator, settings):
    """Few requests in flight and a slow LINE, so a campaign is mid-send for a while."""
    settings.CAMPAIGN_SEND_CONCURRENCY = 4
    emulator.configure(latency_ms=20)


def test_a_paused_campaign_sends_nothing_more_and_resumes_where_it_stopped(
    emulator, connection, marketer, monkeypatch, slow_sends
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    act_mid_send(monkeypatch, lambda c: campaign_pause(campaign=c, user=marketer, reason="hold"))
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason == "hold"
    sent_while_running = sum(ledger(emulator).values())
    assert 0 < sent_while_running < N
    assert campaign.sent == sent_while_running
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == N - campaign.sent
    assert not Delivery.objects.filter(campaign=campaign, status="sending").exists()

    monkeypatch.undo()
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"campaign.launch", "campaign.pause", "campaign.resume"} <= actions


def test_resuming_a_paused_campaign_with_nothing_left_completes_it_at_once(
    emulator, connection, marketer, monkeypatch, django_capture_on_commit_callbacks
):
    make_contacts(5)
    campaign = launch(marketer, connection, messages=GREETING)
    monkeypatch.setattr(lifecycle, "campaign_check_complete", lambda campaign: False)
    campaign = drain(campaign)
    assert (campaign.status, campaign.sent) == (Campaign.Status.SENDING, 5)
    campaign = campaign_pause(campaign=campaign, user=marketer)
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_resume(campaign=campaign, user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert counters(campaign) == row_counts(campaign)


def test_cancel_mid_send_leaves_the_rest_not_sent_as_cancelled(
    emulator, connection, marketer, monkeypatch, slow_sends
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    act_mid_send(monkeypatch, lambda c: campaign_cancel(campaign=c, user=marketer))
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.CANCELLED
    sent = sum(ledger(emulator).values())
    assert 0 < sent < N
    assert campaign.sent == sent
    cancelled = Delivery.objects.filter(campaign=campaign, status="not_sent", reason="cancelled")
    assert cancelled.count() == campaign.not_sent == N - sent
    assert campaign.skipped == 0
    assert counters(campaign) == row_counts(campaign)
    assert campaign.attempted == campaign.sent + campaign.failed
    assert AuditEntry.objects.filter(action="campaign.cancel").exists()


def test_monthly_limit_pauses_with_the_reason_and_resumes_after_the_quota_is_raised(
    emulator, connection, marketer
):
    make_contacts(25)
    campaign = launch(marketer, connection, messages=GREETING)
    emulator.configure(monthly_quota=10)
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.PAUSED
    assert "monthly" in campaign.pause_reason
    assert campaign.sent == 10 and campaign.failed == 0
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == 15
    assert AuditEntry.objects.filter(action="campaign.pause", actor=None).exists()

    emulator.configure(monthly_quota=1000)
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(25)}
    assert counters(campaign) == row_counts(campaign)


@pytest.mark.parametrize(
    "messages", [GREETING, [{"type": "text", "text": "Hi"}]], ids=["push", "multicast"]
)
def test_rows_refused_by_the_monthly_limit_are_sent_when_resumed_after_more_than_24_hours(
    emulator, connection, marketer, messages
):
    """LINE refused them: nothing was accepted under their keys, so the 24-hour rule for
    unanswered requests does not apply."""
    make_contacts(25)
    campaign = launch(marketer, connection, messages=messages)
    emulator.configure(monthly_quota=10 if messages is GREETING else 0)
    campaign = drain(campaign)
    assert campaign.status == Campaign.Status.PAUSED

    aged = F("first_attempt_at") - datetime.timedelta(hours=25)
    Delivery.objects.filter(campaign=campaign, first_attempt_at__isnull=False).update(
        first_attempt_at=aged
    )
    DeliveryBatch.objects.filter(campaign=campaign, first_attempt_at__isnull=False).update(
        first_attempt_at=aged
    )
    emulator.configure(monthly_quota=1000)
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))

    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(25)}
    assert campaign.sent == 25 and campaign.failed == 0
    assert counters(campaign) == row_counts(campaign)


def test_launch_is_blocked_when_the_quota_is_short(emulator, connection, marketer):
    make_contacts(5)
    emulator.configure(monthly_quota=3)
    campaign = campaign_create(
        user=marketer,
        name="Too big",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=GREETING,
    )
    with pytest.raises(LaunchBlocked) as blocked:
        campaign_launch(campaign=campaign, user=marketer)
    assert any("quota" in reason for reason in blocked.value.reasons)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_a_401_pauses_the_campaign_and_nothing_is_failed(emulator, connection, marketer):
    make_contacts(10)
    campaign = launch(marketer, connection, messages=GREETING)
    emulator.configure(token="rotated-token")
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.PAUSED
    assert "401" in campaign.pause_reason
    assert campaign.failed == 0 and campaign.sent == 0
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == 10
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INVALID
    assert "401" in connection.last_error and "LINE said:" in connection.last_error
    again = campaign_create(
        user=marketer,
        name="Again",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=GREETING,
    )
    with pytest.raises(LaunchBlocked, match="not active"):
        campaign_launch(campaign=again, user=marketer)

    with pytest.raises(CampaignError, match="Check again"):
        campaign_resume(campaign=campaign, user=marketer)
    emulator.configure(token=emulator.token)
    assert connection_check(connection=connection).status == Connection.Status.ACTIVE
    campaign = drain(campaign_resume(campaign=campaign, user=marketer))
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(10)}
