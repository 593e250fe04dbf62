"""Resume puts every remaining batch back to work at once, and the progress card says what a
campaign that does not move waits for: the first result after a resume, a lost worker, or
batches no worker has taken."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.engine import batches, lifecycle
from campaigns.engine.batches import BatchRun
from campaigns.engine.lifecycle import sweep_stale_batches
from campaigns.models import Campaign, DeliveryBatch
from campaigns.selectors import campaign_recovery
from campaigns.services import campaign_pause, campaign_resume
from linecampaigns.celery import app as celery_app
from tests.campaigns.crash_support import free_port, use_broker
from tests.campaigns.engine_support import (
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


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no cleanup writes."""


@pytest.fixture
def four_batches(settings):
    settings.CAMPAIGN_BATCH_SIZE = 10


def ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def send_until_the_worker_dies(campaign: Campaign, monkeypatch) -> None:
    """Batch 1's worker dies after its first write: the batch stays `sending`."""

    def control(run: BatchRun) -> None:
        raise WorkerKilled

    monkeypatch.setattr(BatchRun, "_control", control)
    with pytest.raises(WorkerKilled):
        drain(campaign)
    monkeypatch.undo()


def test_resume_puts_every_remaining_batch_back_to_work_at_once(
    emulator,
    connection,
    marketer,
    monkeypatch,
    four_batches,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    send_until_the_worker_dies(campaign, monkeypatch)
    campaign = campaign_pause(campaign=campaign, user=marketer)
    # Its worker was lost before the resume; no sweep has run since.
    DeliveryBatch.objects.filter(campaign=campaign, status="sending").update(claimed_at=ago(25))

    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=campaign, user=marketer)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)


def test_the_progress_card_says_resuming_until_the_first_result_after_the_resume(
    emulator, connection, marketer, marketer_client, four_batches
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    lifecycle.campaign_start(campaign)
    campaign = campaign_pause(campaign=campaign, user=marketer)
    campaign = campaign_resume(campaign=campaign, user=marketer)

    assert campaign_recovery(campaign=campaign) == "resuming…"
    page = marketer_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Resuming…" in page

    batches.batch_send(campaign_id=campaign.pk, number=1)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign_recovery(campaign=campaign) == ""


def test_the_progress_card_says_when_a_worker_was_lost_and_when_batches_wait(
    emulator, connection, marketer, marketer_client, monkeypatch, four_batches
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    send_until_the_worker_dies(campaign, monkeypatch)
    held = DeliveryBatch.objects.filter(campaign=campaign, status="sending")
    held.update(claimed_at=ago(3))
    assert campaign_recovery(campaign=campaign) == ""  # it may still be sending

    held.update(claimed_at=ago(12))
    assert campaign_recovery(campaign=campaign) == "stalled — recovering (worker lost 12 s ago)"
    page = marketer_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Stalled — recovering (worker lost 12 s ago)" in page

    assert sweep_stale_batches(lease_seconds=0)["stale"] == 1
    DeliveryBatch.objects.filter(campaign=campaign).update(queued_at=ago(25), claimed_at=ago(25))
    assert campaign_recovery(campaign=campaign) == (
        "stalled — recovering (no worker has taken its batches for 25 s)"
    )


def test_a_resume_while_the_broker_is_down_succeeds_and_leaves_the_batches_to_the_sweeper(
    connection, marketer, four_batches, django_capture_on_commit_callbacks
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    lifecycle.campaign_start(campaign)
    campaign = campaign_pause(campaign=campaign, user=marketer)
    DeliveryBatch.objects.filter(campaign=campaign).update(queued_at=None)
    before = celery_app.conf.broker_url
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        with django_capture_on_commit_callbacks(execute=True):
            campaign = campaign_resume(campaign=campaign, user=marketer)
    finally:
        use_broker(before)

    assert campaign.status == Campaign.Status.SENDING
    # Stamped as dispatched: the sweeper sends them again once the broker is back.
    assert not DeliveryBatch.objects.filter(campaign=campaign, queued_at__isnull=True).exists()
