"""Writes of the analytics app: kept report figures, retries of failed recipients, LINE
statistics. Analytics never writes deliveries."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analytics import selectors
from analytics.models import CampaignInsight, CampaignReport, InsightCall
from campaigns.models import RETRYABLE_REASONS, Campaign, Delivery
from connections.line import line_call
from connections.models import Connection
from kit.services import audit_record
from lineapi import LineApiError

log = logging.getLogger(__name__)

INSIGHT_REQUESTS_PER_HOUR = 60
INSIGHT_DAYS = 14
INSIGHT_REFRESH = dt.timedelta(hours=1)
LINE_TZ = zoneinfo.ZoneInfo("Asia/Tokyo")  # LINE's statistics dates are in UTC+9.


def campaign_report_materialize(*, campaign: Campaign) -> CampaignReport:
    """Count a settled campaign's figures once and keep them."""
    data = selectors.report_count(campaign)
    snapshot, _ = CampaignReport.objects.update_or_create(
        campaign=campaign,
        defaults={
            **data,
            "computed_at": timezone.now(),
            "counters": selectors.campaign_counters(campaign),
        },
    )
    return snapshot


def campaign_reports_materialize_due() -> int:
    """Keep the figures of every settled campaign that has none yet (or stale ones)."""
    done = 0
    recent = timezone.now() - dt.timedelta(days=1)
    candidates = Campaign.objects.filter(status__in=Campaign.FINISHED).filter(
        Q(report__isnull=True) | Q(finished_at__gte=recent)
    )
    for campaign in candidates.iterator():
        snapshot = CampaignReport.objects.filter(campaign=campaign).first()
        if selectors.snapshot_is_current(snapshot, campaign):
            continue
        if selectors.campaign_is_settled(campaign):
            campaign_report_materialize(campaign=campaign)
            done += 1
    return done


# Retry failed -----------------------------------------------------------------------------


def campaign_retry_failed(*, campaign: Campaign, user) -> Campaign:
    """A new draft campaign, linked to `campaign`, to the recipients whose failure a retry can
    fix. Permanent failures (invalid request, not found, ...) are left out."""
    from campaigns.services import CampaignError, campaign_create

    if campaign.status != Campaign.Status.COMPLETED:
        raise ValidationError("Only a completed campaign can retry its failed recipients.")
    open_retry = selectors.open_retry(campaign)
    if open_retry is not None:
        raise ValidationError(
            f"This campaign already has a retry campaign: “{open_retry.name}” (#{open_retry.pk})."
        )
    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    retryable = selectors.retryable_failures(campaign).count()
    if not retryable:
        raise ValidationError("No recipient failed for a reason that a retry can fix.")
    permanent = failed.exclude(reason__in=RETRYABLE_REASONS).count()
    with transaction.atomic():
        try:
            # The audience is a query over this campaign's failed rows, run at launch: no list
            # of ids to store, however many failed.
            retry = campaign_create(
                user=user,
                name=f"{campaign.name} — retry of failed"[:200],
                connection=campaign.connection,
                audience_type=Campaign.Audience.RETRY,
                parent=campaign,
                template=campaign.template,
                messages=campaign.messages,
                schedule_timezone=campaign.schedule_timezone,
                notification_disabled=campaign.notification_disabled,
                frequency_cap_enabled=campaign.frequency_cap_enabled,
            )
        except CampaignError as exc:
            raise ValidationError(exc.message) from exc
        audit_record(
            actor=user,
            action="campaign.retry_failed",
            target=retry,
            details={
                "parent": campaign.pk,
                "recipients": retryable,
                "permanent_failures_excluded": permanent,
            },
        )
    return retry


def delivery_export_record(*, campaign: Campaign, user, filters: dict) -> None:
    audit_record(actor=user, action="campaign.export_deliveries", target=campaign, details=filters)


# LINE statistics ----------------------------------------------------------------------------


def insight_calls_last_hour(connection: Connection, now: dt.datetime) -> int:
    return InsightCall.objects.filter(
        connection=connection, called_at__gt=now - dt.timedelta(hours=1)
    ).count()


def insight_due_campaigns(connection: Connection, now: dt.datetime) -> list[Campaign]:
    """Finished campaigns (completed, or cancelled or expired after sending some) with an
    aggregation unit that finished within the last 14 days and were not fetched within the last
    hour, never-fetched first, then oldest fetch first."""
    campaigns = Campaign.objects.filter(
        connection=connection,
        status__in=Campaign.FINISHED,
        finished_at__gte=now - dt.timedelta(days=INSIGHT_DAYS),
        sent__gt=0,
    ).exclude(aggregation_unit="")
    fetched = dict(
        CampaignInsight.objects.filter(campaign__in=campaigns).values_list(
            "campaign_id", "fetched_at"
        )
    )
    due = [
        c for c in campaigns if fetched.get(c.pk) is None or fetched[c.pk] <= now - INSIGHT_REFRESH
    ]
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(due, key=lambda c: (fetched.get(c.pk) or never, c.finished_at, c.pk))


def _insight_reserve(connection: Connection, campaign: Campaign) -> InsightCall | None:
    """Take one of the connection's 60 hourly insight requests, or None if all are used."""
    with transaction.atomic():
        Connection.objects.select_for_update().filter(pk=connection.pk).first()
        now = timezone.now()
        if insight_calls_last_hour(connection, now) >= INSIGHT_REQUESTS_PER_HOUR:
            return None
        return InsightCall.objects.create(connection=connection, campaign=campaign, called_at=now)


def _line_dates(campaign: Campaign, now: dt.datetime) -> tuple[str, str]:
    start = (campaign.started_at or campaign.launched_at or campaign.finished_at).astimezone(
        LINE_TZ
    )
    end = min(now.astimezone(LINE_TZ), start + dt.timedelta(days=29))
    return start.strftime("%Y%m%d"), end.strftime("%Y%m%d")


def campaign_insight_fetch(*, campaign: Campaign, call: InsightCall) -> CampaignInsight:
    now = timezone.now()
    from_date, to_date = _line_dates(campaign, now)
    insight, _ = CampaignInsight.objects.get_or_create(campaign=campaign)
    try:
        body = line_call(
            campaign.connection,
            lambda c: c.insight_aggregation(
                unit=campaign.aggregation_unit, from_date=from_date, to_date=to_date
            ),
        )
    except LineApiError as exc:
        insight.last_error = f"{exc.status or ''} {exc.message}".strip()
        insight.last_error_at = now
        insight.save(update_fields=["last_error", "last_error_at"])
        log.warning("insight for campaign %s failed: %s", campaign.pk, insight.last_error)
        return insight
    overview = body.get("overview") or {}
    insight.fetched_at = now
    # LINE's statistics per aggregation unit have no delivered figure; kept if ever sent.
    insight.delivered = overview.get("delivered")
    insight.unique_impression = overview.get("uniqueImpression")
    insight.unique_click = overview.get("uniqueClick")
    insight.url_clicks = [
        {
            "seq": c.get("seq"),
            "url": c.get("url"),
            "click": c.get("click"),
            "unique_click": c.get("uniqueClick"),
        }
        for c in body.get("clicks") or []
    ]
    insight.raw = body
    insight.last_error = ""
    insight.save()
    InsightCall.objects.filter(pk=call.pk).update(ok=True)
    return insight


def line_statistics_sync(*, now: dt.datetime | None = None) -> int:
    """Fetch LINE's statistics for due campaigns within each connection's hourly budget."""
    now = now or timezone.now()
    fetched = 0
    connections = Connection.objects.filter(
        campaign__status__in=Campaign.FINISHED,
        campaign__finished_at__gte=now - dt.timedelta(days=INSIGHT_DAYS),
        campaign__sent__gt=0,
    ).distinct()
    for connection in connections:
        for campaign in insight_due_campaigns(connection, now):
            call = _insight_reserve(connection, campaign)
            if call is None:
                break
            campaign_insight_fetch(campaign=campaign, call=call)
            fetched += 1
    InsightCall.objects.filter(called_at__lt=now - dt.timedelta(days=2)).delete()
    return fetched
