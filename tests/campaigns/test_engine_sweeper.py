"""Crash safety in one process: a batch whose worker died mid-send is swept back to the queue and
finished with the same retry keys; nothing is resent blind after LINE forgets a key (24 h)."""

import datetime

import pytest
from django.utils import timezone

from campaigns.engine import lifecycle
from campaigns.engine.batches import BatchRun
from campaigns.engine.lifecycle import sweep_stale_batches
from campaigns.enqueue import QUEUE, campaigns_queue_waiting
from campaigns.models import Campaign, Delivery, DeliveryBatch
from linecampaigns.celery import app as celery_app
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

GREETING = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}'}]
N = 60

pytestmark = pytest.mark.usefixtures("fast_engine")


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no cleanup writes."""


def kill_after_first_flush(monkeypatch) -> None:
    def control(run: BatchRun) -> None:
        raise WorkerKilled

    monkeypatch.setattr(BatchRun, "_control", control)


@pytest.fixture
def connection(db, emulator, settings):
    settings.CAMPAIGN_SEND_CONCURRENCY = 8
    emulator.configure(latency_ms=20)
    return make_connection(emulator)


def test_a_batch_left_sending_is_swept_and_finished_exactly_once(
    emulator, connection, marketer, monkeypatch
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    kill_after_first_flush(monkeypatch)
    with pytest.raises(WorkerKilled):
        drain(campaign)
    monkeypatch.undo()
    batch = DeliveryBatch.objects.get(campaign=campaign)
    assert batch.status == "sending"
    assert Delivery.objects.filter(campaign=campaign, status="sending").exists()

    assert sweep_stale_batches(lease_seconds=3600)["stale"] == 0  # still within its lease
    assert sweep_stale_batches(lease_seconds=0)["stale"] == 1
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(N)}
    assert counters(campaign) == row_counts(campaign)
    assert campaign.sent == N


def test_rows_first_tried_more_than_24_hours_ago_fail_as_outcome_unknown(
    emulator, connection, marketer, monkeypatch
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    kill_after_first_flush(monkeypatch)
    with pytest.raises(WorkerKilled):
        drain(campaign)
    monkeypatch.undo()
    stranded = Delivery.objects.filter(campaign=campaign, status="sending")
    n_stranded = stranded.count()
    stranded.update(first_attempt_at=timezone.now() - datetime.timedelta(hours=25))
    delivered_before = sum(ledger(emulator).values())

    sweep_stale_batches(lease_seconds=0)
    campaign = drain(campaign)

    unknown = Delivery.objects.filter(campaign=campaign, reason="unknown_outcome")
    assert unknown.count() == n_stranded > 0
    assert set(unknown.values_list("status", flat=True)) == {"failed"}
    assert sum(ledger(emulator).values()) == delivered_before
    assert campaign.status == Campaign.Status.COMPLETED
    assert counters(campaign) == row_counts(campaign)


def test_a_batch_is_handed_on_once_its_heartbeat_is_older_than_the_lease(
    emulator, connection, marketer, monkeypatch
):
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    kill_after_first_flush(monkeypatch)
    with pytest.raises(WorkerKilled):
        drain(campaign)
    monkeypatch.undo()
    held = DeliveryBatch.objects.filter(campaign=campaign, status="sending")

    held.update(claimed_at=timezone.now() - datetime.timedelta(seconds=15))
    assert sweep_stale_batches()["stale"] == 0  # a few heartbeats missed: not yet
    held.update(claimed_at=timezone.now() - datetime.timedelta(seconds=25))
    assert sweep_stale_batches()["stale"] == 1  # past the 20 s lease
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(N)}


def _purge_campaigns_queue() -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)


def test_batches_whose_task_messages_the_broker_lost_are_dispatched_again(
    emulator, connection, marketer, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_BATCH_SIZE = 20
    make_contacts(N)
    campaign = launch(marketer, connection, messages=GREETING)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_start(campaign)
    _purge_campaigns_queue()  # the broker restarted without its data
    batches = DeliveryBatch.objects.filter(campaign=campaign)
    assert batches.count() == 3
    half_a_minute_ago = timezone.now() - datetime.timedelta(seconds=30)
    batches.update(queued_at=half_a_minute_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_batches()["requeued"] == 3
    assert campaigns_queue_waiting() == 3
    assert sweep_stale_batches()["requeued"] == 0  # just dispatched
    batches.update(queued_at=half_a_minute_ago)
    assert sweep_stale_batches()["requeued"] == 0  # their messages wait in the queue
    _purge_campaigns_queue()
    campaign = drain(campaign)

    assert campaign.status == Campaign.Status.COMPLETED
    assert ledger(emulator) == {line_id(i): 1 for i in range(N)}
