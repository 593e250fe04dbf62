"""Sending one batch (docs/design.md §4.2 to 4.7): claim, load, run, finish.

The claim takes the batch's lease (`lease.py`); the rows are loaded and each recipient's
messages rendered; the async sender (`sender.py`) sends them in slices of about half a second.
Between slices no loop is running, so the run writes the finished rows (`ledger.py`, one
UPDATE with the counters in one short transaction), renews its lease and re-reads the
campaign's status: pause, cancel and the send-by deadline take effect between requests.

The lease is renewed by every write and at least every CAMPAIGN_HEARTBEAT_SECONDS, and swept
once it is CAMPAIGN_BATCH_LEASE_SECONDS old (`lifecycle.batches_release_expired`).
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.engine import lifecycle
from campaigns.engine.config import option
from campaigns.engine.lease import BATCH_LEASE, LeaseLost, batch_held, batch_renew
from campaigns.engine.ledger import write_multicast, write_rows
from campaigns.engine.retry import halt_message
from campaigns.engine.sender import FAILED, NOT_SENT, PENDING, Item, Sender
from campaigns.models import Campaign, Delivery, DeliveryBatch
from campaigns.personalization import (
    CompiledMessages,
    PersonalizationError,
    compile_messages,
    context_from,
)
from connections.services import connection_mark_invalid
from lineapi import LineApiError, LineAuthError, line_error_message

log = logging.getLogger(__name__)


class BatchRun:
    """One claimed batch on its way out: the sender's requests, and between its slices the
    writes, the heartbeat and the campaign's status."""

    def __init__(self, campaign: Campaign, batch: DeliveryBatch, items: list[Item]) -> None:
        self.campaign, self.batch, self.items = campaign, batch, items
        self.sender = Sender(
            connection=campaign.connection,
            mode=batch.mode,
            notification_disabled=campaign.notification_disabled,
            units=[campaign.aggregation_unit] if campaign.aggregation_unit else None,
            label=batch,
        )
        self.halt_recorded = False
        self.heartbeat = datetime.timedelta(seconds=option("CAMPAIGN_HEARTBEAT_SECONDS"))
        self.renewed_at = batch.claimed_at or timezone.now()

    @property
    def halt(self) -> LineApiError | None:
        return self.sender.halt

    def run(self) -> None:
        interval = option("CAMPAIGN_CONTROL_INTERVAL_SECONDS")
        try:
            self.sender.send(self.items, interval=interval, between=self._between_slices)
        except LeaseLost:
            log.warning("batch %s lost its lease; another worker has it", self.batch)
            raise

    def _between_slices(self, done: list[Item]) -> None:
        self._flush(done)
        self._control()

    def record_halt(self) -> None:
        """Pauses the campaign with LINE's reason; a 401 also marks the connection invalid,
        so the connections page shows it and launches refuse it until "Check again"."""
        if self.halt is None or self.halt_recorded:
            return
        self.halt_recorded = True
        lifecycle.campaign_halt(self.campaign, halt_message(self.halt))
        if isinstance(self.halt, LineAuthError):
            conn = self.campaign.connection
            message = line_error_message(self.halt, base_url=conn.api_base_url)
            connection_mark_invalid(connection=conn, message=message)

    def _control(self) -> None:
        self.record_halt()
        status, send_by = Campaign.objects.values_list("status", "send_by").get(pk=self.campaign.pk)
        if status == Campaign.Status.CANCELLED:
            self.sender.stop("cancelled")
        elif status in (Campaign.Status.EXPIRED,) or (send_by and timezone.now() > send_by):
            self.sender.stop("expired")
        elif status != Campaign.Status.SENDING:
            self.sender.stop("paused")

    def _final_state(self, item: Item) -> None:
        """Where a request the stop cut short leaves its rows; `lifecycle.rows_stop` applies
        the same rule to rows no worker holds."""
        reason = self.sender.stop_reason
        if reason == "paused" or not reason:
            item.outcome = PENDING
        elif item.maybe_accepted():
            item.failed("unknown_outcome", lifecycle.UNKNOWN_MESSAGE)
        elif item.prior_attempts + item.tried:
            item.outcome = FAILED  # refused by LINE: its last answer is its outcome
        else:
            item.outcome, item.reason = NOT_SENT, reason  # cancelled or expired

    def _flush(self, items: list[Item]) -> None:
        for item in items:
            if not item.outcome:
                self._final_state(item)
        now = timezone.now()
        if not items and now - self.renewed_at < self.heartbeat:
            return
        with transaction.atomic():
            # The lease is checked in the transaction that writes: a worker that lost it to
            # the sweeper writes nothing, and the rows stay with their new holder.
            if not batch_renew(self.batch, now):
                raise LeaseLost
            self.renewed_at = now
            if not items:
                return
            if self.batch.mode == DeliveryBatch.Mode.MULTICAST:
                counts = write_multicast(items[0], self.batch, now)
            else:
                counts = write_rows(items, now)
            lifecycle.counters_add(self.campaign.pk, counts)


# --- claiming and loading -----------------------------------------------------------------


def batch_claim(campaign_id: int, number: int) -> DeliveryBatch | None:
    now = timezone.now()
    with transaction.atomic():
        claimed = BATCH_LEASE.claim(
            {"campaign_id": campaign_id, "number": number, "status": DeliveryBatch.Status.PENDING},
            now=now,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), now),
        )
        if not claimed:
            return None
        batch = DeliveryBatch.objects.get(campaign_id=campaign_id, number=number)
        if batch.mode == DeliveryBatch.Mode.PUSH:
            # Each row is its own request: mark them, with the time they may first go out.
            # Rows a crashed worker left in `sending` are taken over with the batch. A
            # multicast batch is one request, so its rows stay as they are until it answers.
            Delivery.objects.filter(
                campaign_id=campaign_id, batch=number, status__in=Delivery.OPEN
            ).update(
                status=Delivery.Status.SENDING,
                first_attempt_at=Coalesce(F("first_attempt_at"), now),
            )
        return batch


def _load_items(campaign: Campaign, batch: DeliveryBatch) -> list[Item]:
    rows = Delivery.objects.filter(campaign=campaign, batch=batch.number).order_by("id")
    ttl = datetime.timedelta(seconds=option("CAMPAIGN_RETRY_KEY_TTL_SECONDS"))
    stale_before = timezone.now() - ttl

    # `batch_claim` stamps rows that had no time with the claim's own time (a crash from here
    # on may leave them sent); that stamp is not a time LINE may have accepted them before.
    def before_claim(first_at: datetime.datetime | None) -> datetime.datetime | None:
        return None if first_at == batch.claimed_at else first_at

    if batch.mode == DeliveryBatch.Mode.MULTICAST:
        data = list(
            rows.filter(status__in=Delivery.OPEN).values_list(
                "id", "line_id", "attempts", "reason", "http_status", "error_message"
            )
        )
        if not data:
            return []
        item = Item(
            ids=[r[0] for r in data],
            to=[r[1] for r in data],
            messages=campaign.messages,
            retry_key=str(batch.retry_key),
            prior_attempts=max(r[2] for r in data),
            prior_first_at=before_claim(batch.first_attempt_at),
        )
        # Its last answer, which a stop keeps (an untried request is written back as it was).
        item.reason, item.http_status, item.error_message = data[0][3:6]
        if item.prior_first_at and item.prior_first_at < stale_before:
            item.failed("unknown_outcome", _STALE_MESSAGE)
        return [item]
    compiled = _compiled(campaign)
    data = rows.filter(status=Delivery.Status.SENDING).values_list(
        "id",
        "line_id",
        "retry_key",
        "attempts",
        "first_attempt_at",
        "reason",
        "http_status",
        "error_message",
        "contact__display_name",
        "contact__attributes",
    )
    items = []
    for pk, line_id, key, attempts, first_at, *last, name, attributes in data.iterator(
        chunk_size=500
    ):
        item = Item([pk], line_id, None, str(key), attempts, before_claim(first_at))
        item.reason, item.http_status, item.error_message = last
        first_at = item.prior_first_at
        if first_at and first_at < stale_before:
            item.failed("unknown_outcome", _STALE_MESSAGE)
        else:
            try:
                item.messages = compiled.render(context_from(line_id, name or "", attributes))
            except PersonalizationError as exc:
                item.failed(exc.reason, str(exc), [{"property": exc.property, "message": str(exc)}])
        items.append(item)
    return items


_compiled_cache: dict[int, tuple[list, CompiledMessages]] = {}


def _compiled(campaign: Campaign) -> CompiledMessages:
    """Parsed once per campaign per worker process, not once per batch."""
    cached = _compiled_cache.get(campaign.pk)
    if cached is None or cached[0] != campaign.messages:
        if len(_compiled_cache) > 32:
            _compiled_cache.clear()
        cached = (campaign.messages, compile_messages(campaign.messages))
        _compiled_cache[campaign.pk] = cached
    return cached[1]


_STALE_MESSAGE = (
    "First attempted more than 24 hours ago: LINE no longer recognises the retry key, so it "
    "is not resent blind."
)


def batch_send(*, campaign_id: int, number: int) -> None:
    """The body of the `campaigns.send_batch` task."""
    campaign = Campaign.objects.select_related("connection").filter(pk=campaign_id).first()
    if campaign is None:
        return
    if campaign.status != Campaign.Status.SENDING:
        lifecycle.batch_settle_stopped(campaign, number)
        return
    batch = batch_claim(campaign_id, number)
    if batch is None:
        return
    run = BatchRun(campaign, batch, _load_items(campaign, batch))
    try:
        run.run()
    except LeaseLost:
        return
    run.record_halt()
    _batch_finish(campaign, batch)
    lifecycle.campaign_check_complete(campaign)


def _batch_finish(campaign: Campaign, batch: DeliveryBatch) -> None:
    """Done, or back to pending when rows are left (paused), and queued again if the campaign
    was resumed meanwhile. The campaign's row is locked first, as a resume's update locks it:
    either the resume commits first and this sees it sending, or this commits first and the
    resume finds the batch pending. Without the lock each could miss the other, and the batch
    would wait for the sweeper."""
    with transaction.atomic():
        status = (
            Campaign.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=campaign.pk)
        )
        open_rows = Delivery.objects.filter(
            campaign=campaign, batch=batch.number, status__in=Delivery.OPEN
        ).exists()
        finished = batch_held(batch).update(
            status=DeliveryBatch.Status.PENDING if open_rows else DeliveryBatch.Status.DONE,
            finished_at=None if open_rows else timezone.now(),
            queued_at=None,
        )
        if finished and open_rows and status == Campaign.Status.SENDING:
            lifecycle.enqueue_batches(campaign, [batch.number])
