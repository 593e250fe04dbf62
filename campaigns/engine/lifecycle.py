"""Campaign-level engine steps: start (snapshot + enqueue), counters, completion, automatic
pause, expiry, and the sweeper that re-queues what a crash or a lost message left behind."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from audiences.rules import RuleError
from campaigns.engine.config import option
from campaigns.engine.snapshot import NoMessages, campaign_recount, snapshot_take
from campaigns.models import Campaign, Delivery, DeliveryBatch, figures_from_counts
from campaigns.personalization import TemplateSyntaxProblem
from kit.services import audit_record

log = logging.getLogger(__name__)

UNKNOWN_MESSAGE = (
    "A worker stopped while this was in flight and the campaign no longer sends: it may or may "
    "not have been delivered."
)


def counters_add(campaign_id: int, counts: dict[str, int]) -> None:
    """Advances the counters by the rows just written (counts by status), in the caller's
    transaction."""
    figures = {name: n for name, n in figures_from_counts(counts).items() if n}
    if not figures:
        return
    Campaign.objects.filter(pk=campaign_id).update(
        **{name: F(name) + n for name, n in figures.items()},
        last_result_at=timezone.now(),
    )


def enqueue_batches(campaign: Campaign, numbers: list[int]) -> None:
    """Stamps the batches as dispatched (`queued_at`) and sends their tasks after commit. A
    broker that is down loses nothing: the sweeper dispatches them again once it is back."""
    from campaigns.tasks import enqueue_batches as send_tasks

    if not numbers:
        return
    DeliveryBatch.objects.filter(campaign=campaign, number__in=numbers).update(
        queued_at=timezone.now()
    )
    transaction.on_commit(lambda: send_tasks(campaign.pk, numbers))


def batches_enqueue_pending(campaign: Campaign) -> list[int]:
    """Every batch of the campaign that can go now, including those a lost worker held."""
    batches_release_expired(DeliveryBatch.objects.filter(campaign=campaign))
    numbers = list(
        DeliveryBatch.objects.filter(campaign=campaign, status=DeliveryBatch.Status.PENDING)
        .order_by("number")
        .values_list("number", flat=True)
    )
    enqueue_batches(campaign, numbers)
    return numbers


def batches_release_expired(
    batches: QuerySet[DeliveryBatch], *, lease_seconds: float | None = None
) -> int:
    """Batches whose worker stopped renewing the lease (`claimed_at`, see `batches`) go back
    to pending; the next claim takes their rows over with the same retry keys, so LINE drops
    any request that already went out. Each is released by a conditional update on its
    claim's token, so a worker that renews meanwhile keeps it."""
    if lease_seconds is None:
        lease_seconds = option("CAMPAIGN_BATCH_LEASE_SECONDS")
    expired = timezone.now() - datetime.timedelta(seconds=lease_seconds)
    released = 0
    stale = batches.filter(status=DeliveryBatch.Status.SENDING, claimed_at__lt=expired)
    for batch in stale.select_related("campaign"):
        if not DeliveryBatch.objects.filter(
            pk=batch.pk, status=DeliveryBatch.Status.SENDING, attempts=batch.attempts
        ).update(status=DeliveryBatch.Status.PENDING, queued_at=None):
            continue
        released += 1
        lost = int((timezone.now() - batch.claimed_at).total_seconds())
        log.warning("batch %s lost its worker (last heartbeat %d s ago); released", batch, lost)
        if batch.campaign.status != Campaign.Status.SENDING:
            batch_settle_stopped(batch.campaign, batch.number)
    return released


def campaign_start(campaign: Campaign) -> None:
    """The body of `campaigns.start_campaign`: snapshot once, then one task per batch."""
    if campaign.status != Campaign.Status.SENDING:
        return
    try:
        taken = snapshot_take(campaign)
    except (RuleError, TemplateSyntaxProblem, NoMessages) as exc:
        campaign_halt(campaign, f"The campaign cannot start: {exc}")
        return
    if taken:
        Campaign.objects.filter(pk=campaign.pk, started_at__isnull=True).update(
            started_at=timezone.now()
        )
    with transaction.atomic():
        batches_enqueue_pending(campaign)
    campaign_check_complete(campaign)


def campaign_halt(
    campaign: Campaign, message: str, from_status: str = Campaign.Status.SENDING
) -> bool:
    """Pauses a campaign on its own (monthly limit, 401, a failed check when a scheduled one
    falls due) with the reason shown."""
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, status=from_status).update(
            status=Campaign.Status.PAUSED, pause_reason=message
        )
        if changed:
            audit_record(
                actor=None,
                action="campaign.pause",
                target=campaign,
                details={"reason": message, "automatic": True},
            )
    return bool(changed)


def campaign_expire(campaign: Campaign) -> bool:
    """Past the send-by deadline: what was never attempted is not sent, as `expired`."""
    now = timezone.now()
    with transaction.atomic():
        changed = Campaign.objects.filter(
            pk=campaign.pk,
            status__in=Campaign.CANCELLABLE,
        ).update(status=Campaign.Status.EXPIRED, finished_at=now)
        if not changed:
            return False
        counters_add(campaign.pk, rows_stop(rows_not_in_flight(campaign), "expired", now))
        audit_record(actor=None, action="campaign.expire", target=campaign)
    return True


def campaign_check_complete(campaign: Campaign) -> bool:
    """Completed when no row is pending or sending; the counters are recounted from the rows."""
    status, send_by = Campaign.objects.values_list("status", "send_by").get(pk=campaign.pk)
    if status in Campaign.LIVE and send_by and timezone.now() > send_by:
        campaign_expire(campaign)
        return False
    if status != Campaign.Status.SENDING:
        return False
    # Cheap answer while batches are open: each batch's task checks again once it is done (and
    # the sweeper does for every sending campaign). Only then are the rows themselves asked,
    # which walks every index entry the sent rows left behind.
    if (
        DeliveryBatch.objects.filter(campaign=campaign)
        .exclude(status=DeliveryBatch.Status.DONE)
        .exists()
    ):
        return False
    if Delivery.objects.filter(campaign=campaign, status__in=Delivery.OPEN).exists():
        return False
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.COMPLETED, finished_at=timezone.now()
        )
        if changed:
            campaign_recount(campaign)
    return bool(changed)


def batch_settle_stopped(campaign: Campaign, number: int) -> None:
    """A batch of a campaign that no longer sends, held by no worker (its task ran after a
    pause or a cancel, or the sweeper found it abandoned). Paused: its rows wait as `pending`.
    Cancelled or expired: rows that may have gone out fail as outcome unknown, the rest are
    not sent, as cancelled or expired (`rows_stop`)."""
    now = timezone.now()
    with transaction.atomic():
        taken = DeliveryBatch.objects.filter(
            campaign=campaign, number=number, status=DeliveryBatch.Status.PENDING
        ).update(attempts=F("attempts") + 1, queued_at=None)
        if not taken:
            return
        batch = DeliveryBatch.objects.get(campaign=campaign, number=number)
        rows = Delivery.objects.filter(campaign=campaign, batch=number)
        if campaign.status == Campaign.Status.PAUSED:
            rows.filter(status=Delivery.Status.SENDING).update(status=Delivery.Status.PENDING)
            return
        multicast_tried = batch.mode == DeliveryBatch.Mode.MULTICAST and batch.first_attempt_at
        uncertain = rows.filter(
            status__in=Delivery.OPEN if multicast_tried else (Delivery.Status.SENDING,)
        )
        failed = uncertain.update(
            status=Delivery.Status.FAILED,
            reason="unknown_outcome",
            error_message=UNKNOWN_MESSAGE,
            finished_at=now,
        )
        stopped = "cancelled" if campaign.status == Campaign.Status.CANCELLED else "expired"
        counts = rows_stop(rows.filter(status=Delivery.Status.PENDING), stopped, now)
        counters_add(campaign.pk, {**counts, "failed": counts["failed"] + failed})
        DeliveryBatch.objects.filter(pk=batch.pk).update(
            status=DeliveryBatch.Status.DONE, finished_at=now
        )


def rows_stop(rows: QuerySet[Delivery], reason: str, now: datetime.datetime) -> dict[str, int]:
    """Pending rows of a campaign that sends no more (cancelled or expired), by the rule
    `BatchRun._final_state` applies to the rows a worker holds: a row LINE may have accepted
    (`first_attempt_at` is kept only then) fails as outcome unknown; a row LINE refused keeps
    that answer as its failure; a row never attempted is not sent, with `reason`."""
    failed = rows.filter(first_attempt_at__isnull=False).update(
        status=Delivery.Status.FAILED,
        reason="unknown_outcome",
        error_message=UNKNOWN_MESSAGE,
        finished_at=now,
    )
    failed += rows.filter(attempts__gt=0).update(status=Delivery.Status.FAILED, finished_at=now)
    not_sent = rows.update(status=Delivery.Status.NOT_SENT, reason=reason, finished_at=now)
    return {"failed": failed, "not_sent": not_sent}


def rows_not_in_flight(campaign: Campaign) -> QuerySet[Delivery]:
    """Pending rows no worker holds: a running batch settles its own rows when it stops."""
    in_flight = DeliveryBatch.objects.filter(
        campaign=campaign, status=DeliveryBatch.Status.SENDING
    ).values("number")
    return Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).exclude(
        batch__in=in_flight
    )


def sweep_stale_batches(*, lease_seconds: float | None = None) -> dict[str, int]:
    """The beat's sweeper (every 10 s): releases batches whose worker was lost, re-dispatches
    batches whose task message was lost, starts launched campaigns whose start was lost,
    completes and expires campaigns."""
    from campaigns.tasks import enqueue_start

    now = timezone.now()
    requeue = datetime.timedelta(seconds=option("CAMPAIGN_REQUEUE_AFTER_SECONDS"))
    figures = {"stale": 0, "requeued": 0, "started": 0, "completed": 0}
    figures["stale"] = batches_release_expired(
        DeliveryBatch.objects.all(), lease_seconds=lease_seconds
    )
    lost = _lost_dispatches(now)
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        if campaign.snapshot_at is None:
            if campaign.launched_at is None or campaign.launched_at < now - requeue:
                enqueue_start(campaign.pk)
                figures["started"] += 1
            continue
        numbers = list(lost.filter(campaign=campaign).values_list("number", flat=True))
        if numbers:
            log.warning("campaign %s: batches %s lost their task; sent again", campaign.pk, numbers)
        with transaction.atomic():
            enqueue_batches(campaign, numbers)
        figures["requeued"] += len(numbers)
        figures["completed"] += campaign_check_complete(campaign)
    for campaign in Campaign.objects.filter(status__in=Campaign.LIVE, send_by__lt=now):
        campaign_expire(campaign)
    return figures


def _lost_dispatches(now: datetime.datetime) -> QuerySet[DeliveryBatch]:
    """Pending batches of sending campaigns whose task message is gone: never dispatched, or
    dispatched more than CAMPAIGN_DISPATCH_TIMEOUT_SECONDS ago while the broker holds no
    message waiting in the campaigns queue (a broker restarted without its data loses them
    all), or dispatched so long ago (CAMPAIGN_REQUEUE_AFTER_SECONDS) that the queue, however
    long, would have reached them. Asking the broker keeps a long queue of one large campaign
    from being doubled every sweep; a batch dispatched twice is claimed once."""
    from campaigns.tasks import campaigns_queue_waiting

    timeout = datetime.timedelta(seconds=option("CAMPAIGN_DISPATCH_TIMEOUT_SECONDS"))
    requeue = datetime.timedelta(seconds=option("CAMPAIGN_REQUEUE_AFTER_SECONDS"))
    waiting = DeliveryBatch.objects.filter(
        campaign__status=Campaign.Status.SENDING, status=DeliveryBatch.Status.PENDING
    )
    lost = Q(queued_at__isnull=True) | Q(queued_at__lt=now - requeue)
    if waiting.filter(queued_at__lt=now - timeout).exists() and campaigns_queue_waiting() == 0:
        lost |= Q(queued_at__lt=now - timeout)
    return waiting.filter(lost)
