"""Campaign reads: the pre-launch review, live progress, lists. Counts are SQL counts."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from audiences.models import Contact
from audiences.rules import RuleError
from campaigns.engine.snapshot import (
    audience_contacts,
    missing_attribute_q,
    send_mode,
    skipped_counts,
    with_skip_reason,
)
from campaigns.models import Campaign, Delivery
from campaigns.personalization import TemplateSyntaxProblem, compile_messages
from connections.line import line_call
from connections.models import Connection
from lineapi import LineApiError

RATE_WINDOW_SECONDS = 10
SKIP_REASONS = ("unfollowed", "opted_out", "frequency_cap", "missing_attribute")


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


def campaign_review(*, campaign: Campaign, messages: list[dict] | None = None) -> dict:
    """What a launch would do, before anything is sent: recipients, skips and why, quota."""
    if messages is None:
        messages = campaign.messages or (campaign.template.messages if campaign.template_id else [])
    problems: list[str] = []
    required: set[str] = set()
    personalized = False
    try:
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
    if required:
        skipped["missing_attribute"] = reachable.filter(missing_attribute_q(required)).count()
    expected = reachable.count() - skipped["missing_attribute"]
    if campaign.audience_type == Campaign.Audience.EXPLICIT:
        known = audience.count()
        expected += len(set(campaign.explicit_ids or [])) - known  # new contacts to be created
    quota = quota_check(connection=campaign.connection, needed=expected)
    if expected <= 0:
        problems.append("No contact would receive this campaign.")
    if quota.get("error"):
        problems.append(f"Could not read LINE's quota: {quota['error']}")
    elif not quota["enough"]:
        problems.append(
            f"Not enough monthly quota: {quota['remaining']:,} left, {expected:,} needed."
        )
    return {
        "expected_recipients": max(expected, 0),
        "skipped": skipped,
        "missing_variables": sorted(required),
        "quota": quota,
        "send_mode": send_mode(campaign, personalized=personalized),
        "problems": problems,
    }


def test_recipient(*, line_id: str) -> Contact:
    """Who a test send personalizes for: the contact with this LINE id, or, for an id that is
    not a contact yet, an unsaved stand-in with only `line_id` (so defaults apply)."""
    contact = Contact.objects.filter(line_id=line_id).first()
    return contact or Contact(line_id=line_id, kind=Contact.kind_for(line_id))


def campaign_done(*, campaign: Campaign) -> tuple[int, float]:
    """Recipients settled and their percentage of the delivery rows: the one progress figure
    of the campaign page and the report. Skipped rows are settled too, so they count as done."""
    done = campaign.attempted + campaign.skipped
    total = campaign.recipients_total
    return done, round(100 * done / total, 1) if total else 0.0


def campaign_progress(*, campaign: Campaign) -> dict:
    campaign.refresh_from_db(
        fields=[
            "status",
            "pause_reason",
            "recipients_total",
            "attempted",
            "sent",
            "failed",
            "skipped",
        ]
    )
    done, percent = campaign_done(campaign=campaign)
    since = timezone.now() - datetime.timedelta(seconds=RATE_WINDOW_SECONDS)
    recent = Delivery.objects.filter(
        campaign=campaign,
        status__in=(Delivery.Status.SENT, Delivery.Status.FAILED),
        finished_at__gte=since,
    ).count()
    return {
        "status": campaign.status,
        "pause_reason": campaign.pause_reason,
        "recipients_total": campaign.recipients_total,
        "attempted": campaign.attempted,
        "sent": campaign.sent,
        "failed": campaign.failed,
        "skipped": campaign.skipped,
        "pending": max(campaign.recipients_total - done, 0),
        "percent": percent,
        "rate_per_s": round(recent / RATE_WINDOW_SECONDS, 1),
    }


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
