"""Campaign tasks: ids in, one engine call each. Queue `campaigns`, acknowledged late (every
step is idempotent: batches are claimed with a conditional update, keys are fixed)."""

from celery import shared_task

from campaigns.engine import batches, lifecycle
from campaigns.models import Campaign

QUEUE = "campaigns"
OPTIONS = {"acks_late": True, "ignore_result": True}

BEAT_SCHEDULE = {
    "campaigns-start-due": {
        "task": "campaigns.start_due_campaigns",
        "schedule": 20.0,
        "options": {"queue": QUEUE},
    },
    "campaigns-sweep-stale-batches": {
        "task": "campaigns.sweep_stale_batches",
        "schedule": 45.0,
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
    start_campaign.apply_async((campaign_id,), queue=QUEUE)


def enqueue_batch(campaign_id: int, number: int) -> None:
    send_batch.apply_async((campaign_id, number), queue=QUEUE)
