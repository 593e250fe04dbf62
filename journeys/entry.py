"""Entering a journey (docs/design.md §11): a run per trigger, decided once.

`enter` runs in the caller's transaction: the webhook event's savepoint, the events API's
receiver or the trigger API. The run's key is unique per journey, so an event processed twice
enters once; one contact's entries are decided one at a time (its row is locked), so that
"once" and "not while in a run" hold under concurrent events. The walk (journeys.engine) is
queued after commit.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from audiences.models import Contact
from audiences.rules import RuleError
from audiences.selectors import segment_contacts
from campaigns.engine.snapshot import (
    SKIP_FREQUENCY_CAP,
    SKIP_OPTED_OUT,
    SKIP_UNFOLLOWED,
    frequency_cap,
)
from campaigns.models import Delivery
from journeys.definition import entry_period
from journeys.models import Journey, JourneyRun, JourneySend, JourneyVersion
from kit.enqueue import enqueue

log = logging.getLogger(__name__)

RUN_STEP = "journeys.run_step"  # journeys.engine.RUN_QUEUED
# LINE takes a reply token for about a minute after the webhook.
REPLY_TOKEN_SECONDS = 60
DAY = datetime.timedelta(hours=24)
# Why a trigger did not enter, as the report names them.
SKIP_REASONS = {
    SKIP_UNFOLLOWED: "Not following (blocked or left)",
    SKIP_OPTED_OUT: "Opted out",
    "in_journey": "Already in a run of this journey",
    "already_entered": "Entered before (entry: once)",
    "entered_recently": "Entered recently (entry: at most every …)",
    "conditions_not_met": "Entry conditions not met",
    "conditions_invalid": "Entry conditions could not be checked",
    "daily_limit": "Daily send limit reached",
    SKIP_FREQUENCY_CAP: "Frequency cap",
}
RETRY_KEY_NAMESPACE = uuid.UUID("6f1b6c4e-3a55-4d0e-9a8e-5c3f1f0a7d21")


def retry_key(journey_id: int, trigger_key: str, position: int) -> uuid.UUID:
    """Fixed by the trigger and the run's move, so that the same API idempotency key maps to
    the same X-Line-Retry-Key (docs/design.md §11)."""
    return uuid.uuid5(RETRY_KEY_NAMESPACE, f"{journey_id}:{trigger_key}:{position}")


def frequency_capped(contact: Contact) -> bool:
    """The global cap counts campaign deliveries and marketing journey sends alike."""
    cap = frequency_cap()
    if not cap.enabled:
        return False
    since = timezone.now() - datetime.timedelta(days=cap.days)
    sent = Delivery.objects.filter(
        contact=contact, status=Delivery.Status.SENT, finished_at__gte=since
    ).count()
    if sent >= cap.max_messages:
        return True
    sent += recent_marketing_sends(since).filter(contact=contact).values("run").distinct().count()
    return sent >= cap.max_messages


def recent_marketing_sends(since: datetime.datetime) -> QuerySet[JourneySend]:
    return JourneySend.objects.filter(
        status=JourneySend.Status.SENT, finished_at__gte=since, marketing=True
    )


def cap_subquery(since: datetime.datetime) -> QuerySet:
    """For campaigns' snapshot (campaigns.caps): a contact's marketing journey runs that sent
    since `since`, each counted once as a campaign is."""
    return (
        recent_marketing_sends(since)
        .filter(contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(n=Count("run", distinct=True))
        .values("n")
    )


def sends_today(version: JourneyVersion, contact: Contact) -> int:
    return JourneySend.objects.filter(
        journey_id=version.journey_id,
        contact=contact,
        created_at__gte=timezone.now() - DAY,
        status__in=(*JourneySend.OPEN, *JourneySend.ATTEMPTED),
    ).count()


def skip_reason(version: JourneyVersion, contact: Contact) -> str:
    """'' when the contact enters, else why not (a key of SKIP_REASONS)."""
    if contact.follow_status == Contact.FollowStatus.UNFOLLOWED:
        return SKIP_UNFOLLOWED
    if contact.opted_out and not version.transactional:
        return SKIP_OPTED_OUT
    # The contact's earlier runs, in one query: any still open, and when the last one began.
    runs = (
        JourneyRun.objects.filter(journey_id=version.journey_id, contact=contact)
        .exclude(status=JourneyRun.Status.SKIPPED)
        .aggregate(open=Count("pk", filter=Q(status__in=JourneyRun.OPEN)), last=Max("created_at"))
    )
    if runs["open"]:
        return "in_journey"
    if version.entry == "once" and runs["last"] is not None:
        return "already_entered"
    period = entry_period(version.entry)
    if period is not None and runs["last"] and runs["last"] >= timezone.now() - period:
        return "entered_recently"
    if version.entry_conditions:
        try:
            matches = segment_contacts(rules=version.entry_conditions).filter(pk=contact.pk)
            if not matches.exists():
                return "conditions_not_met"
        except RuleError as exc:
            log.warning("journey %s: entry conditions: %s", version.journey_id, exc)
            return "conditions_invalid"
    if sends_today(version, contact) >= version.daily_limit:
        return "daily_limit"
    if not version.transactional and frequency_capped(contact):
        return SKIP_FREQUENCY_CAP
    return ""


def enter(
    *,
    version: JourneyVersion,
    contact: Contact,
    trigger_key: str,
    payload: dict,
    reply_token: str = "",
    received_at: datetime.datetime | None = None,
    test: bool = False,
) -> tuple[JourneyRun, bool]:
    """The run of this trigger: entered (its sends queued after commit) or skipped with the
    reason. Returns (run, created); a trigger seen before returns its run, entering nothing."""
    journey_id = version.journey_id
    # A trigger seen before is rare (connections drops redelivered events): it is found by the
    # run's unique key below rather than looked up first for every event.
    # One contact's entries one at a time (a row lock on PostgreSQL; SQLite writes one by one).
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    reason = "" if test else skip_reason(version, contact)
    now = timezone.now()
    run = JourneyRun(
        journey_id=journey_id,
        version=version,
        contact=contact,
        line_id=contact.line_id,
        trigger_key=trigger_key[:300],
        trigger_type=version.trigger_type,
        payload=payload,
        status=JourneyRun.Status.SKIPPED if reason else JourneyRun.Status.QUEUED,
        reason=reason,
        finished_at=now if reason else None,
        test=test,
    )
    if reply_token and not reason:
        run.reply_token = reply_token[:255]
        run.reply_token_expires_at = (received_at or now) + datetime.timedelta(
            seconds=REPLY_TOKEN_SECONDS
        )
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:  # the same trigger entered before, or meanwhile by another process
        return JourneyRun.objects.get(journey_id=journey_id, trigger_key=run.trigger_key), False
    if not reason:
        run_id = run.pk
        transaction.on_commit(lambda: enqueue_run(run_id))
    return run, True


def enqueue_run(run_id: int) -> None:
    try:
        enqueue(RUN_STEP, run_id)
    except Exception:  # the sweeper queues runs whose sends wait too long
        log.exception("journey run %s could not be queued; the sweeper will", run_id)


def active_versions(*, connection_id: int | None, trigger_type: str):
    """The versions that take new entries: each active journey's current one."""
    versions = JourneyVersion.objects.filter(
        trigger_type=trigger_type,
        journey__status=Journey.Status.ACTIVE,
        journey__current_version_id=F("pk"),
    ).select_related("journey")
    if connection_id is not None:
        versions = versions.filter(journey__connection_id=connection_id)
    return versions.order_by("journey_id")
