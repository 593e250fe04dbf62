"""Campaign reads: the pre-launch review, live progress, lists. Counts are SQL counts."""

from __future__ import annotations

import datetime
import time

from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from audiences.models import Contact
from audiences.rules import RuleError
from campaigns.engine.config import option
from campaigns.engine.lease import BATCH_LEASE
from campaigns.engine.snapshot import (
    audience_contacts,
    frequency_cap,
    missing_attribute_q,
    send_mode,
    skipped_counts,
    with_skip_reason,
)
from campaigns.models import FIGURES, Campaign, Delivery, DeliveryBatch
from campaigns.personalization import CompiledMessages, TemplateSyntaxProblem, compile_messages
from connections.line import line_call
from connections.models import Connection
from lineapi import LINE_ID_RE, LineApiError

RATE_WINDOW_SECONDS = 10
SKIP_REASONS = ("unfollowed", "opted_out", "frequency_cap")
# Stopped before every recipient was tried: the rest are not sent.
STOPPED = (Campaign.Status.CANCELLED, Campaign.Status.EXPIRED)


def quota_check(*, connection: Connection, needed: int) -> dict:
    """LINE's remaining monthly quota against what a campaign needs (a live call)."""

    async def fetch(client):
        quota = await client.quota()
        used = await client.quota_consumption() if quota.type == "limited" else 0
        return quota, used

    try:
        quota, used = line_call(connection, fetch)
    except LineApiError as exc:
        return {"remaining": None, "needed": needed, "enough": False, "type": "", "error": str(exc)}
    if quota.type != "limited" or quota.value is None:
        return {"remaining": None, "needed": needed, "enough": True, "type": quota.type}
    remaining = max(quota.value - used, 0)
    return {
        "remaining": remaining,
        "needed": needed,
        "enough": remaining >= needed,
        "type": "limited",
    }


def campaign_review(
    *,
    campaign: Campaign,
    messages: list[dict] | None = None,
    compiled: CompiledMessages | None = None,
    mode: str | None = None,
) -> dict:
    """What a launch would do, before anything is sent. `expected_recipients` is everyone the
    snapshot will attempt, so the report's Attempted equals it if nothing changes in between;
    `will_fail` of them lack a placeholder's value (no default) and will count as Failed. A
    launch passes the messages it compiled and the send mode it validated (`compiled`, `mode`)."""
    if messages is None:
        messages = campaign.messages or (campaign.template.messages if campaign.template_id else [])
    problems: list[str] = []
    required: set[str] = set()
    personalized = False
    try:
        if compiled is None:
            compiled = compile_messages(messages or [])
        personalized, required = compiled.is_personalized, compiled.required_variables()
    except TemplateSyntaxProblem as exc:
        problems.append(f"{exc.property}: Liquid syntax: {exc.message}")
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    try:
        audience = with_skip_reason(audience_contacts(campaign), campaign)
        skipped.update(skipped_counts(audience))
    except RuleError as exc:
        problems.append(f"The segment's rules are not valid: {exc}")
        audience = Contact.objects.none()
    reachable = audience.filter(skip_reason="")
    expected = reachable.count()
    will_fail = reachable.filter(missing_attribute_q(required)).count() if required else 0
    new_contacts = _new_explicit_contacts(campaign, known=audience)
    expected += new_contacts
    if required - {"line_id"}:
        will_fail += new_contacts  # created without a name or attributes
    will_send = expected - will_fail
    quota = quota_check(connection=campaign.connection, needed=will_send)
    if will_send <= 0:
        problems.append("No contact would receive this campaign.")
    if quota.get("error"):
        problems.append(f"Could not read LINE's quota: {quota['error']}")
    elif not quota["enough"]:
        problems.append(
            f"Not enough monthly quota: {quota['remaining']:,} left, {will_send:,} needed."
        )
    return {
        "expected_recipients": expected,
        "will_fail": will_fail,
        "skipped": skipped,
        "missing_variables": sorted(required),
        "quota": quota,
        "send_mode": mode or send_mode(campaign, personalized=personalized),
        "problems": problems,
    }


def _new_explicit_contacts(campaign: Campaign, *, known: QuerySet[Contact]) -> int:
    """Explicit ids that are no contact yet: the snapshot creates them (a valid id only)."""
    if campaign.audience_type != Campaign.Audience.EXPLICIT:
        return 0
    ids = {i for i in campaign.explicit_ids or [] if LINE_ID_RE.match(str(i))}
    return len(ids) - known.filter(line_id__in=ids).count()


def frequency_cap_label(campaign: Campaign) -> str:
    """The cap that applies to this campaign: the one that chose its recipients once they are
    chosen, else today's setting (Settings → Frequency cap)."""
    if not campaign.frequency_cap_enabled:
        return "Frequency cap: off for this campaign"
    summary = campaign.frequency_cap_applied if campaign.snapshot_at else ""
    return f"Frequency cap: {summary or frequency_cap().summary}"


def test_recipient(*, line_id: str) -> Contact:
    """Who a test send personalizes for: the contact with this LINE id, or, for an id that is
    not a contact yet, an unsaved stand-in with only `line_id` (so defaults apply)."""
    contact = Contact.objects.filter(line_id=line_id).first()
    return contact or Contact(line_id=line_id, kind=Contact.kind_for(line_id))


def campaign_done(*, campaign: Campaign) -> tuple[int, float]:
    """Recipients settled and their percentage of the delivery rows: the one progress figure
    of the campaign page and the report. Skipped and not-sent rows are settled too."""
    done = campaign.settled_recipients
    total = campaign.recipients_total
    return done, round(100 * done / total, 1) if total else 0.0


def campaign_in_flight(*, campaign: Campaign) -> int:
    """Rows of a cancelled or expired campaign still open: requests in flight when it stopped,
    whose answers their batch writes shortly (or the sweeper, if its worker died)."""
    if campaign.status not in STOPPED:
        return 0
    return max(campaign.recipients_total - campaign.settled_recipients, 0)


def campaign_in_flight_wait(*, campaign: Campaign, seconds: float | None = None) -> int:
    """Gives the workers holding a just-stopped campaign's rows a moment to write them, so the
    page after a cancel shows the final split: a worker stops between requests, within its
    control interval, and then only requests already sent wait for LINE's answer. Returns the
    rows still open."""
    if seconds is None:
        seconds = 4 * option("CAMPAIGN_CONTROL_INTERVAL_SECONDS")
    deadline = time.monotonic() + seconds
    while True:
        campaign.refresh_from_db(fields=["status", "recipients_total", *FIGURES])
        left = campaign_in_flight(campaign=campaign)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def campaign_progress(*, campaign: Campaign) -> dict:
    """A live campaign's rows left are `pending`; a finished one's are requests that were in
    flight when it stopped, whose answers are still being written (`in_flight`)."""
    campaign.refresh_from_db(
        fields=[
            "status",
            "pause_reason",
            "recipients_total",
            *FIGURES,
            "resumed_at",
            "last_result_at",
        ]
    )
    done, percent = campaign_done(campaign=campaign)
    finished = campaign.status in Campaign.FINISHED
    in_flight = campaign_in_flight(campaign=campaign)
    since = timezone.now() - datetime.timedelta(seconds=RATE_WINDOW_SECONDS)
    recent = Delivery.objects.filter(
        campaign=campaign,
        status__in=Delivery.ATTEMPTED,
        finished_at__gte=since,
    ).count()
    return {
        "status": campaign.status,
        "pause_reason": campaign.pause_reason,
        "recipients_total": campaign.recipients_total,
        **campaign.figures,
        "finished": finished,
        "stopped": campaign.status in STOPPED,
        "pending": 0 if finished else max(campaign.recipients_total - done, 0),
        "in_flight": in_flight,
        "percent": percent,
        "rate_per_s": round(recent / RATE_WINDOW_SECONDS, 1),
        "recovery": campaign_recovery(campaign=campaign),
    }


def campaign_recovery(*, campaign: Campaign) -> str:
    """What a sending campaign that does not move is waiting for, in the progress card's
    words: a worker lost mid-batch (two heartbeats missed; the sweeper hands its batch on once
    the lease runs out), batches no worker has taken (their messages lost with the broker;
    the sweeper dispatches them again), or, after a resume, the first result."""
    if campaign.status != Campaign.Status.SENDING:
        return ""
    now = timezone.now()
    batches = DeliveryBatch.objects.filter(campaign=campaign)
    lost = BATCH_LEASE.expired(batches, seconds=2 * option("CAMPAIGN_HEARTBEAT_SECONDS"))
    last_beat = lost.aggregate(t=Min("claimed_at"))["t"]
    if last_beat is not None:
        return f"stalled — recovering (worker lost {_seconds(now - last_beat)} ago)"
    timeout = now - datetime.timedelta(seconds=option("CAMPAIGN_DISPATCH_TIMEOUT_SECONDS"))
    waiting = batches.filter(status=DeliveryBatch.Status.PENDING).filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=timeout)
    )
    busy = DeliveryBatch.objects.filter(
        campaign__status=Campaign.Status.SENDING, claimed_at__gte=timeout
    )
    if waiting.exists() and not busy.exists():
        since = (
            batches.aggregate(t=Max("claimed_at"))["t"]
            or waiting.aggregate(t=Min("queued_at"))["t"]
        )
        idle = f" for {_seconds(now - since)}" if since else ""
        return f"stalled — recovering (no worker has taken its batches{idle})"
    if campaign.resumed_at and (
        campaign.last_result_at is None or campaign.last_result_at < campaign.resumed_at
    ):
        return "resuming…"
    return ""


def _seconds(delta: datetime.timedelta) -> str:
    return f"{max(int(delta.total_seconds()), 0)} s"


def campaign_list(*, search: str = "", status: str = "") -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("connection", "segment", "created_by")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(aggregation_unit__iexact=search))
    if status:
        qs = qs.filter(status=status)
    return qs


def campaign_deliveries(*, campaign: Campaign, status: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(campaign=campaign).order_by("id")
    if status:
        qs = qs.filter(status=status)
    return qs
