"""Follower backfill: page through LINE's follower ids and create or refresh contacts.

Started from the connection's page (a card audiences adds to it, docs/design.md §5.3), run by
the task `audiences.backfill_followers`.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiences.models import Contact, FollowerBackfill
from connections.line import line_client_for
from connections.models import Connection
from kit.enqueue import enqueue
from kit.leases import Lease
from kit.services import audit_record
from lineapi import (
    LINE_ID_RE,
    LineApiError,
    LineClient,
    LineForbiddenError,
    LineRateLimitError,
    Profile,
    line_error_message,
)

logger = logging.getLogger(__name__)

BACKFILL_FOLLOWERS = "audiences.backfill_followers"
PAGE_SIZE = 1000
PROFILE_CONCURRENCY = 50
# Well under LINE's 2,000 requests/s per channel, so a backfill never starves campaign sends.
PROFILE_RATE = 500
PROFILE_ATTEMPTS = 4

UNVERIFIED_MESSAGE = (
    "LINE refused the follower list (403): only verified or premium LINE Official Accounts "
    "may list their followers. Get the account verified in LINE Official Account Manager, or "
    "rely on follow webhooks and contact imports, which work for every account."
)
# A backfill writes its progress after every page; one silent this long lost its worker.
BACKFILL_STALE_AFTER = timedelta(minutes=15)
# Held while running; `progress_at` is its heartbeat (docs/design.md §1.1).
BACKFILL_LEASE = Lease(
    FollowerBackfill,
    held=FollowerBackfill.Status.RUNNING,
    stamp="progress_at",
    seconds=BACKFILL_STALE_AFTER.total_seconds(),
)


class BackfillActiveError(Exception):
    pass


class BackfillLeaseLost(Exception):
    """The sweep gave this run up (no progress for BACKFILL_STALE_AFTER): stop writing."""


def backfill_start(*, connection: Connection, actor: AbstractUser | None) -> FollowerBackfill:
    with transaction.atomic():
        Connection.objects.select_for_update().get(pk=connection.pk)
        BACKFILL_LEASE.sweep(
            {
                "status": FollowerBackfill.Status.FAILED,
                "error": "Interrupted: the worker stopped without finishing. Start it again.",
                "finished_at": timezone.now(),
            },
            rows=connection.backfills.all(),
        )
        if connection.backfills.filter(status__in=FollowerBackfill.ACTIVE).exists():
            raise BackfillActiveError("A follower backfill is already running for this connection.")
        job = FollowerBackfill.objects.create(connection=connection, created_by=actor)
        audit_record(actor=actor, action="connection.backfill", target=connection)
        transaction.on_commit(lambda: enqueue(BACKFILL_FOLLOWERS, job.pk))
    return job


def latest_backfill(connection: Connection) -> FollowerBackfill | None:
    return connection.backfills.first()


def backfill_panel(sender: type, *, connection: Connection, **kwargs) -> tuple[str, dict]:
    """The backfill's card on the connection's page (hooks.connection_detail_panels)."""
    return "audiences/_backfill_card.html", {"backfill": latest_backfill(connection)}


class _Pacer:
    """Spaces requests evenly at `rate` per second across concurrent tasks."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next_slot = 1.0 / rate, 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def _profile(client: LineClient, pacer: _Pacer, user_id: str) -> Profile | None:
    for attempt in range(PROFILE_ATTEMPTS):
        await pacer.wait()
        try:
            return await client.profile(user_id)
        except LineRateLimitError:
            await asyncio.sleep(0.5 * 2**attempt)
        except LineApiError as exc:
            logger.info("profile of %s not fetched: %s", user_id, exc)
            return None
    return None


async def _profiles(client: LineClient, user_ids: list[str]) -> dict[str, Profile | None]:
    pacer, limit = _Pacer(PROFILE_RATE), asyncio.Semaphore(PROFILE_CONCURRENCY)

    async def one(user_id: str) -> Profile | None:
        async with limit:
            return await _profile(client, pacer, user_id)

    results = await asyncio.gather(*(one(user_id) for user_id in user_ids))
    return dict(zip(user_ids, results, strict=True))


def _new_contact(line_id: str, connection: Connection, profile: Profile | None) -> Contact:
    return Contact(
        line_id=line_id,
        kind=Contact.kind_for(line_id),
        connection=connection,
        display_name=profile.display_name[:255] if profile else "",
        picture_url=(profile.picture_url or "")[:1000] if profile else "",
        follow_status=Contact.FollowStatus.FOLLOWING,
        source=Contact.Source.BACKFILL,
    )


def _store_page(
    *, backfill: FollowerBackfill, connection: Connection, ids: list[str], profiles: dict
) -> None:
    existing = set(Contact.objects.filter(line_id__in=ids).values_list("line_id", flat=True))
    new = [
        _new_contact(line_id, connection, profiles.get(line_id))
        for line_id in ids
        if line_id not in existing
    ]
    Contact.objects.bulk_create(new, ignore_conflicts=True)
    refreshed = Contact.objects.filter(line_id__in=existing)
    refreshed.filter(connection__isnull=True).update(connection=connection)
    refreshed.update(follow_status=Contact.FollowStatus.FOLLOWING, updated_at=timezone.now())
    fetched = sum(1 for profile in profiles.values() if profile is not None)
    renewed = BACKFILL_LEASE.renew(
        backfill.pk,
        pages=F("pages") + 1,
        followers_seen=F("followers_seen") + len(ids),
        created_count=F("created_count") + len(new),
        updated_count=F("updated_count") + len(existing),
        profiles_fetched=F("profiles_fetched") + fetched,
        profile_errors=F("profile_errors") + len(profiles) - fetched,
    )
    if not renewed:
        raise BackfillLeaseLost(backfill.pk)


def _finish(backfill: FollowerBackfill, status: str, error: str = "") -> None:
    # Only while held: a run the sweep gave up keeps the status the sweep wrote.
    BACKFILL_LEASE.held_rows(pk=backfill.pk).update(
        status=status, error=error, finished_at=timezone.now()
    )


def followers_backfill_run(*, backfill: FollowerBackfill) -> FollowerBackfill:
    """Run a pending backfill to its end; a backfill claimed elsewhere is left alone."""
    now = timezone.now()
    claimed = BACKFILL_LEASE.claim(
        {"pk": backfill.pk, "status": FollowerBackfill.Status.PENDING}, now=now, started_at=now
    )
    if not claimed:
        backfill.refresh_from_db()
        return backfill
    connection = backfill.connection
    # One event loop for the whole run; the ORM runs between its steps, never inside them.
    loop = asyncio.new_event_loop()
    client = line_client_for(connection)
    pages: AsyncIterator[list[str]] = client.follower_ids(limit=PAGE_SIZE)
    try:
        while True:
            try:
                page = loop.run_until_complete(anext(pages))
            except StopAsyncIteration:
                break
            ids = list(dict.fromkeys(i for i in page if LINE_ID_RE.match(i)))
            known = set(Contact.objects.filter(line_id__in=ids).values_list("line_id", flat=True))
            profiles = loop.run_until_complete(
                _profiles(client, [i for i in ids if i not in known])
            )
            _store_page(backfill=backfill, connection=connection, ids=ids, profiles=profiles)
        _finish(backfill, FollowerBackfill.Status.COMPLETED)
    except BackfillLeaseLost:
        logger.warning("backfill %s was given up by the sweep; stopped", backfill.pk)
    except LineForbiddenError:
        _finish(backfill, FollowerBackfill.Status.FAILED, UNVERIFIED_MESSAGE)
    except LineApiError as exc:
        _finish(
            backfill,
            FollowerBackfill.Status.FAILED,
            line_error_message(exc, base_url=connection.api_base_url),
        )
    except Exception as exc:
        _finish(backfill, FollowerBackfill.Status.FAILED, f"Unexpected error: {type(exc).__name__}")
        raise
    finally:
        loop.run_until_complete(pages.aclose())
        loop.run_until_complete(client.aclose())
        loop.close()
    backfill.refresh_from_db()
    return backfill
