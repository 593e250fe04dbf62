"""Campaign tasks: ids in, one engine call each. Queue `campaigns`, acknowledged late (every
step is idempotent: batches are claimed with a conditional update, keys are fixed)."""

import logging

from celery import shared_task
from kombu.exceptions import ChannelError, OperationalError

from campaigns.engine import batches, lifecycle
from campaigns.models import Campaign

log = logging.getLogger(__name__)

QUEUE = "campaigns"
OPTIONS = {"acks_late": True, "ignore_result": True}

BEAT_SCHEDULE = {
    "campaigns-start-due": {
        "task": "campaigns.start_due_campaigns",
        "schedule": 20.0,
        "options": {"queue": QUEUE},
    },
    # Often enough that a lost worker or a lost message is noticed within seconds
    # (CAMPAIGN_BATCH_LEASE_SECONDS, CAMPAIGN_DISPATCH_TIMEOUT_SECONDS); a sweep that finds
    # nothing costs a few indexed queries.
    "campaigns-sweep-stale-batches": {
        "task": "campaigns.sweep_stale_batches",
        "schedule": 10.0,
        "options": {"queue": QUEUE},
    },
}


@shared_task(name="campaigns.start_campaign", **OPTIONS)
def start_campaign(campaign_id: int) -> None:
    campaign = Campaign.objects.select_related("connection").filter(pk=campaign_id).first()
    if campaign is not None:
        lifecycle.campaign_start(campaign)


@shared_task(name="campaigns.send_batch", **OPTIONS)
def send_batch(campaign_id: int, batch_number: int) -> None:
    batches.batch_send(campaign_id=campaign_id, number=batch_number)


@shared_task(name="campaigns.sweep_stale_batches", **OPTIONS)
def sweep_stale_batches() -> dict:
    return lifecycle.sweep_stale_batches()


@shared_task(name="campaigns.start_due_campaigns", **OPTIONS)
def start_due_campaigns() -> dict:
    from campaigns.services import campaigns_start_due

    return campaigns_start_due()


def enqueue_start(campaign_id: int) -> None:
    try:
        start_campaign.apply_async((campaign_id,), queue=QUEUE)
    except OperationalError as exc:
        log.warning("campaign %s: broker unreachable (%s); the sweeper starts it", campaign_id, exc)


def enqueue_batches(campaign_id: int, numbers: list[int]) -> None:
    """One task per batch. The batches are already stamped as dispatched: if the broker is
    unreachable the rest are left to the sweeper rather than each waiting out its retries."""
    for number in numbers:
        try:
            send_batch.apply_async((campaign_id, number), queue=QUEUE)
        except OperationalError as exc:
            log.warning(
                "campaign %s: broker unreachable (%s); the sweeper sends its batches",
                campaign_id,
                exc,
            )
            return


def campaigns_queue_waiting() -> int | None:
    """Messages waiting in the campaigns queue (not those a worker holds), or None when the
    broker cannot say."""
    from linecampaigns.celery import app

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return conn.default_channel.queue_declare(queue=QUEUE, passive=True).message_count
    except ChannelError:
        return 0  # Redis keeps no empty list: a queue it does not know holds nothing
    except OperationalError:
        return None
