"""Sending one batch (docs/design.md §4.2 to 4.7): claim, render, send with bounded concurrency,
record.

The event loop runs in slices of about half a second. Between slices no loop is running, so
the task writes the finished rows (one UPDATE … FROM VALUES, with the counters, in one short
transaction), renews its lease and re-reads the campaign's status: pause, cancel and the send-by
deadline take effect between requests.

The lease is the batch row's `claimed_at`: set by the claim (a conditional update pending →
sending that also moves `attempts`, the claim's token), renewed by every write and at least every
CAMPAIGN_HEARTBEAT_SECONDS (the heartbeat, a conditional update on the token), and swept once
it is CAMPAIGN_BATCH_LEASE_SECONDS old (`lifecycle.batches_release_expired`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.engine import lifecycle
from campaigns.engine.config import option
from campaigns.engine.ratelimit import RateLimiter, RateLimiterUnavailable
from campaigns.engine.retry import (
    HALTING,
    UNCERTAIN,
    backoff_seconds,
    halt_message,
    is_retryable,
    reason_for,
)
from campaigns.models import Campaign, Delivery, DeliveryBatch
from campaigns.personalization import (
    CompiledMessages,
    PersonalizationError,
    compile_messages,
    context_from,
)
from connections.line import line_client_for
from connections.models import Connection
from connections.services import connection_mark_invalid
from lineapi import (
    LineApiError,
    LineAuthError,
    LineClient,
    LineDuplicateRetryKeyError,
    line_error_message,
)

log = logging.getLogger(__name__)

SENT, FAILED, PENDING, NOT_SENT = "sent", "failed", "pending", "not_sent"


class LeaseLost(Exception):
    """The sweeper gave this batch to another worker; this one stops without writing."""


@dataclass
class Item:
    """One request: a push to one row, or a multicast to every row of the batch."""

    ids: list[int]
    to: str | list[str]
    messages: list[dict] | None
    retry_key: str
    prior_attempts: int = 0
    # When LINE may first have accepted this key before this run (None: it cannot have).
    prior_first_at: datetime.datetime | None = None
    tried: int = 0
    first_at: datetime.datetime | None = None
    # Whether this run's last attempt went unanswered (timeout, connection error, 5xx).
    uncertain: bool = False
    outcome: str = ""
    reason: str = ""
    http_status: int | None = None
    request_id: str = ""
    accepted_request_id: str = ""
    error_message: str = ""
    error_details: list = field(default_factory=list)

    def sent(self, status: int, request_id: str | None, accepted: str | None = None) -> None:
        self.outcome, self.http_status = SENT, status
        self.request_id, self.accepted_request_id = request_id or "", accepted or ""
        self.reason, self.error_message, self.error_details = "", "", []

    def error(self, exc: LineApiError) -> None:
        self.reason, self.http_status = reason_for(exc), exc.status
        # Once an attempt went unanswered LINE may hold the key; a later 429 or 5xx proves
        # nothing (LINE may check its rate limit before the key), only a 200 or 409 settles it.
        self.uncertain = self.uncertain or self.reason in UNCERTAIN
        self.request_id = exc.request_id or ""
        self.error_message, self.error_details = exc.message[:2000], exc.details[:50]

    def failed(self, reason: str, message: str, details: list | None = None) -> None:
        self.outcome, self.reason, self.error_message = FAILED, reason, message
        self.error_details = details or []

    def maybe_accepted(self) -> bool:
        return self.uncertain if self.tried else self.prior_first_at is not None

    def accepted_since(self) -> datetime.datetime | None:
        """What `first_attempt_at` keeps: when LINE may first have accepted the key. A definite
        refusal clears it, so a row refused (monthly limit, 401) and resumed days later is
        sent, while one whose attempt went unanswered is not resent blind after 24 hours."""
        if not self.tried:
            return self.prior_first_at
        if self.outcome == PENDING and not self.uncertain:
            return None
        return self.prior_first_at or self.first_at


# One event loop per worker process, kept between batches with its LINE clients, so that
# their connections (and the Redis limiter's) are reused instead of reopened for every batch.
_loop: asyncio.AbstractEventLoop | None = None
_resource_cache: dict[tuple, tuple[LineClient, RateLimiter]] = {}


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        _resource_cache.clear()
        atexit.register(_shutdown, _loop)
    return _loop


def _resources(conn: Connection, endpoint: str) -> tuple[LineClient, RateLimiter]:
    concurrency = int(option("CAMPAIGN_SEND_CONCURRENCY"))
    timeout = option("CAMPAIGN_READ_TIMEOUT_SECONDS")
    rate = conn.multicast_rate_limit if endpoint == "multicast" else conn.push_rate_limit
    token = hashlib.sha256(conn.channel_access_token.encode()).hexdigest()
    limiter_at = settings.REDIS_URL
    key = (conn.pk, conn.api_base_url, token, endpoint, rate, concurrency, timeout, limiter_at)
    cached = _resource_cache.get(key)
    if cached is None:
        if len(_resource_cache) > 16:
            _close_all()
        client = line_client_for(conn, read_timeout=timeout, max_connections=concurrency)
        limiter = RateLimiter(connection_id=conn.pk, endpoint=endpoint, rate=rate)
        cached = _resource_cache[key] = (client, limiter)
    return cached


def _close_all() -> None:
    resources = list(_resource_cache.values())
    _resource_cache.clear()

    async def close() -> None:
        for client, limiter in resources:
            await client.aclose()
            await limiter.aclose()

    if _loop is not None and not _loop.is_closed() and not _loop.is_running():
        _loop.run_until_complete(close())


def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    if loop is _loop:
        _close_all()
    if not loop.is_closed():
        loop.close()


async def _settle(tasks: set[asyncio.Task]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class BatchRun:
    def __init__(self, campaign: Campaign, batch: DeliveryBatch, items: list[Item]) -> None:
        self.campaign, self.batch, self.items = campaign, batch, items
        self.stop_reason = ""
        self.halt: LineApiError | None = None
        self.halt_recorded = False
        self.units = [campaign.aggregation_unit] if campaign.aggregation_unit else None
        self.max_attempts = int(option("CAMPAIGN_MAX_ATTEMPTS"))
        self.heartbeat = datetime.timedelta(seconds=option("CAMPAIGN_HEARTBEAT_SECONDS"))
        self.renewed_at = batch.claimed_at or timezone.now()
        self.limiter_down = False

    # --- the async part: no database access in here ---------------------------------------

    async def _open(self) -> None:
        self.stop_event = asyncio.Event()
        self.sem = asyncio.Semaphore(int(option("CAMPAIGN_SEND_CONCURRENCY")))
        self.client, self.limiter = _resources(self.campaign.connection, self.batch.mode)

    def _call(self, item: Item):
        common = {
            "messages": item.messages,
            "retry_key": item.retry_key,
            "notification_disabled": self.campaign.notification_disabled,
            "custom_aggregation_units": self.units,
        }
        if isinstance(item.to, list):
            return self.client.multicast(to=item.to, **common)
        return self.client.push(to=item.to, **common)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), seconds)

    async def _send(self, item: Item) -> Item:
        if item.outcome:
            return item
        async with self.sem:
            while not self.stop_event.is_set():
                if not await self._acquire():
                    continue
                if self.stop_event.is_set():
                    break
                item.tried += 1
                item.first_at = item.first_at or timezone.now()
                try:
                    result = await self._call(item)
                except LineDuplicateRetryKeyError as exc:
                    # LINE already accepted this key: the message went out (docs/design.md §6).
                    item.sent(409, exc.request_id, exc.accepted_request_id)
                    break
                except LineApiError as exc:
                    item.error(exc)
                    if isinstance(exc, HALTING):
                        self._halt(exc)
                        break
                    if is_retryable(exc) and item.tried < self.max_attempts:
                        await self._sleep(backoff_seconds(item.tried))
                        continue
                    item.outcome = FAILED
                    break
                item.sent(result.status, result.request_id)
                break
        return item

    async def _acquire(self) -> bool:
        """A slot from the shared rate limiter. While its Redis is unreachable the batch waits
        (keeping its lease) rather than send past LINE's limit on a per-machine budget."""
        try:
            await self.limiter.acquire()
        except RateLimiterUnavailable as exc:
            if not self.limiter_down:
                log.warning("batch %s waits for the rate limiter: %s", self.batch, exc)
            self.limiter_down = True
            await self._sleep(1.0)
            return False
        self.limiter_down = False
        return True

    def _halt(self, exc: LineApiError) -> None:
        if self.halt is None:
            self.halt = exc
        self.stop("paused")

    def stop(self, reason: str) -> None:
        if not self.stop_reason:
            self.stop_reason = reason
        self.stop_event.set()

    # --- the sync driver --------------------------------------------------------------------

    def run(self) -> None:
        loop = _event_loop()
        interval = option("CAMPAIGN_CONTROL_INTERVAL_SECONDS")
        pending: set[asyncio.Task] = set()
        try:
            loop.run_until_complete(self._open())
            pending = {loop.create_task(self._send(item)) for item in self.items}
            while pending:
                done, pending = loop.run_until_complete(asyncio.wait(pending, timeout=interval))
                self._flush([task.result() for task in done])
                self._control()
        except LeaseLost:
            log.warning("batch %s lost its lease; another worker has it", self.batch)
            raise
        finally:
            # Whatever stopped the loop early, no task outlives it.
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(_settle(pending))

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
            self.stop("cancelled")
        elif status in (Campaign.Status.EXPIRED,) or (send_by and timezone.now() > send_by):
            self.stop("expired")
        elif status != Campaign.Status.SENDING:
            self.stop("paused")

    def _final_state(self, item: Item) -> None:
        """Where a request the stop cut short leaves its rows; `lifecycle.rows_stop` applies
        the same rule to rows no worker holds."""
        if self.stop_reason == "paused" or not self.stop_reason:
            item.outcome = PENDING
        elif item.maybe_accepted():
            item.failed("unknown_outcome", lifecycle.UNKNOWN_MESSAGE)
        elif item.prior_attempts + item.tried:
            item.outcome = FAILED  # refused by LINE: its last answer is its outcome
        else:
            item.outcome, item.reason = NOT_SENT, self.stop_reason  # cancelled or expired

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


# --- writing the ledger -------------------------------------------------------------------

_COLUMNS = {
    "id": "bigint",
    "status": "text",
    "reason": "text",
    "http_status": "integer",
    "request_id": "text",
    "accepted_request_id": "text",
    "error_message": "text",
    "error_details": "jsonb",
    "attempts": "integer",
    "first_attempt_at": "timestamptz",
    "finished_at": "timestamptz",
}
_SET = ", ".join(f"{c} = v.{c}" for c in list(_COLUMNS)[1:])
# PostgreSQL gets the rows as one JSON parameter: binding thousands of placeholders costs more
# client CPU than the UPDATE itself.
_PG_UPDATE = f"""
    WITH v AS (
        SELECT * FROM jsonb_to_recordset(%s::jsonb)
        AS v({", ".join(f"{c} {t}" for c, t in _COLUMNS.items())})
    )
    UPDATE campaigns_delivery SET {_SET}
    FROM v
    WHERE campaigns_delivery.id = v.id AND campaigns_delivery.status = 'sending'
    RETURNING campaigns_delivery.status
"""


def _row_values(item: Item, delivery_id: int, now: datetime.datetime, pg: bool) -> tuple:
    attempts = item.prior_attempts + item.tried
    first_at = item.accepted_since()
    finished = now if item.outcome != PENDING else None
    if pg:
        stamp = datetime.datetime.isoformat
        first_at, finished = first_at and stamp(first_at), finished and stamp(finished)
        details = item.error_details
    else:
        adapt = connection.ops.adapt_datetimefield_value
        first_at, finished = adapt(first_at), adapt(finished)
        details = json.dumps(item.error_details)
    return (
        delivery_id,
        item.outcome,
        item.reason,
        item.http_status,
        item.request_id[:64],
        item.accepted_request_id[:64],
        item.error_message,
        details,
        attempts,
        first_at,
        finished,
    )


def _sqlite_update(n: int) -> str:
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"] * n)
    return f"""
        WITH v ({", ".join(_COLUMNS)}) AS (VALUES {placeholders})
        UPDATE campaigns_delivery SET {_SET}
        FROM v
        WHERE campaigns_delivery.id = v.id AND campaigns_delivery.status = 'sending'
        RETURNING campaigns_delivery.status
    """


def write_rows(items: list[Item], now: datetime.datetime) -> dict[str, int]:
    """One UPDATE for every finished row, only rows still `sending`; returns counts by status."""
    pg = connection.vendor == "postgresql"
    rows = [_row_values(item, i, now, pg) for item in items for i in item.ids]
    counts: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        if pg:
            keys = list(_COLUMNS)
            sql, params = _PG_UPDATE, [json.dumps([dict(zip(keys, r, strict=True)) for r in chunk])]
        else:
            sql, params = _sqlite_update(len(chunk)), [value for row in chunk for value in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for (status,) in cursor.fetchall():
                counts[status] = counts.get(status, 0) + 1
    return counts


def write_multicast(item: Item, batch: DeliveryBatch, now: datetime.datetime) -> dict[str, int]:
    """Every open row of the batch shares the one request's outcome: one UPDATE."""
    attempts = item.prior_attempts + item.tried
    first_at = item.accepted_since()
    DeliveryBatch.objects.filter(pk=batch.pk).update(first_attempt_at=first_at)
    n = Delivery.objects.filter(
        campaign_id=batch.campaign_id, batch=batch.number, status__in=Delivery.OPEN
    ).update(
        status=item.outcome,
        reason=item.reason,
        http_status=item.http_status,
        request_id=item.request_id[:64],
        accepted_request_id=item.accepted_request_id[:64],
        error_message=item.error_message,
        error_details=item.error_details,
        attempts=attempts,
        first_attempt_at=first_at,
        finished_at=now if item.outcome != PENDING else None,
    )
    return {item.outcome: n}


# --- claiming and loading -----------------------------------------------------------------


def _held(batch: DeliveryBatch):
    """The batch, as long as this claim holds it (`attempts` is the claim's token)."""
    return DeliveryBatch.objects.filter(
        pk=batch.pk, status=DeliveryBatch.Status.SENDING, attempts=batch.attempts
    )


def batch_renew(batch: DeliveryBatch, now: datetime.datetime) -> bool:
    """The heartbeat: extends this claim's lease; False once the sweeper gave the batch away."""
    return bool(_held(batch).update(claimed_at=now))


def batch_claim(campaign_id: int, number: int) -> DeliveryBatch | None:
    now = timezone.now()
    with transaction.atomic():
        claimed = DeliveryBatch.objects.filter(
            campaign_id=campaign_id, number=number, status=DeliveryBatch.Status.PENDING
        ).update(
            status=DeliveryBatch.Status.SENDING,
            claimed_at=now,
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
        finished = _held(batch).update(
            status=DeliveryBatch.Status.PENDING if open_rows else DeliveryBatch.Status.DONE,
            finished_at=None if open_rows else timezone.now(),
            queued_at=None,
        )
        if finished and open_rows and status == Campaign.Status.SENDING:
            lifecycle.enqueue_batches(campaign, [batch.number])
