"""Campaign tasks: ids in, one engine call each. Queue `campaigns`, acknowledged late (every
step is idempotent: batches are claimed with a conditional update, keys are fixed)."""

from celery import shared_task

from campaigns.engine import batches, lifecycle
from campaigns.enqueue import QUEUE, SEND_BATCH, START_CAMPAIGN
from campaigns.models import Campaign
from campaigns.services import campaigns_start_due

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


@shared_task(name=START_CAMPAIGN, **OPTIONS)
def start_campaign(campaign_id: int) -> None:
    campaign = Campaign.objects.select_related("connection").filter(pk=campaign_id).first()
    if campaign is not None:
        lifecycle.campaign_start(campaign)


@shared_task(name=SEND_BATCH, **OPTIONS)
def send_batch(campaign_id: int, batch_number: int) -> None:
    batches.batch_send(campaign_id=campaign_id, number=batch_number)


@shared_task(name="campaigns.sweep_stale_batches", **OPTIONS)
def sweep_stale_batches() -> dict:
    return lifecycle.sweep_stale_batches()


@shared_task(name="campaigns.start_due_campaigns", **OPTIONS)
def start_due_campaigns() -> dict:
    return campaigns_start_due()
