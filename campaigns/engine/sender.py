"""The async sender of one batch (docs/design.md §4.2 to 4.5): the worker's event loop and its
LINE clients and rate limiters, and the state machine of each request (attempt, retry with
backoff, 409 as sent, stop on a halting error). No database access in here: the batch's driver
(`batches.BatchRun`) reads and writes between slices, while no loop is running."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from campaigns.engine.config import option
from campaigns.engine.ratelimit import RateLimiter, RateLimiterUnavailable
from campaigns.engine.retry import HALTING, UNCERTAIN, backoff_seconds, is_retryable, reason_for
from connections.line import line_client_for
from connections.models import Connection
from lineapi import LineApiError, LineClient, LineDuplicateRetryKeyError

log = logging.getLogger(__name__)

SENT, FAILED, PENDING, NOT_SENT = "sent", "failed", "pending", "not_sent"


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


class Sender:
    """Sends one batch's items to LINE with at most CAMPAIGN_SEND_CONCURRENCY in flight, each
    through the shared rate limiter. `stop(reason)` ends every request between attempts; a
    halting error (monthly limit, 401) is kept in `halt` and stops them as `paused`."""

    def __init__(
        self,
        *,
        connection: Connection,
        mode: str,
        notification_disabled: bool,
        units: list[str] | None,
        label: object,
    ) -> None:
        self.connection, self.mode, self.label = connection, mode, label
        self.notification_disabled, self.units = notification_disabled, units
        self.stop_reason = ""
        self.halt: LineApiError | None = None
        self.max_attempts = int(option("CAMPAIGN_MAX_ATTEMPTS"))
        self.limiter_down = False

    def send(
        self, items: list[Item], *, interval: float, between: Callable[[list[Item]], None]
    ) -> None:
        """Sends every item in slices of `interval` seconds; after each slice, with no loop
        running, `between` gets the items finished in it. Whatever ends the run early (an
        exception from `between` included), no request outlives it."""
        loop = _event_loop()
        pending: set[asyncio.Task] = set()
        try:
            loop.run_until_complete(self._open())
            pending = {loop.create_task(self._send(item)) for item in items}
            while pending:
                done, pending = loop.run_until_complete(asyncio.wait(pending, timeout=interval))
                between([task.result() for task in done])
        finally:
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(_settle(pending))

    def stop(self, reason: str) -> None:
        if not self.stop_reason:
            self.stop_reason = reason
        self.stop_event.set()

    async def _open(self) -> None:
        self.stop_event = asyncio.Event()
        self.sem = asyncio.Semaphore(int(option("CAMPAIGN_SEND_CONCURRENCY")))
        self.client, self.limiter = _resources(self.connection, self.mode)

    def _call(self, item: Item):
        common = {
            "messages": item.messages,
            "retry_key": item.retry_key,
            "notification_disabled": self.notification_disabled,
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
                log.warning("batch %s waits for the rate limiter: %s", self.label, exc)
            self.limiter_down = True
            await self._sleep(1.0)
            return False
        self.limiter_down = False
        return True

    def _halt(self, exc: LineApiError) -> None:
        if self.halt is None:
            self.halt = exc
        self.stop("paused")
