from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from analytics import presentation, selectors, services
from analytics.views import filter_error_detail, filter_errors, log_filters
from campaigns.models import Campaign
from kit.api import ApiError, ObjectId, require_role
from kit.roles import READERS
from kit.spreadsheet import csv_response

router = Router(tags=["analytics"])


class Failure(Schema):
    reason: str
    reason_label: str
    http_status: int | None
    error_message: str
    count: int


class Skip(Schema):
    reason: str
    reason_label: str
    count: int


class TimelinePoint(Schema):
    t: str
    sent: int


class Timeline(Schema):
    bucket_seconds: int
    points: list[TimelinePoint]


class UrlClicks(Schema):
    seq: int | None
    url: str | None
    click: int | None
    unique_click: int | None


class LineStatistics(Schema):
    aggregation_unit: str
    fetched_at: str | None
    delivered: int | None
    unique_impression: int | None
    unique_click: int | None
    url_clicks: list[UrlClicks]
    note: str = "null means LINE hid the figure (fewer than 20) or did not report it"


class CampaignReportOut(Schema):
    attempted: int
    sent: int
    failed: int
    skipped: int
    # Never tried because the campaign was cancelled or expired first; not part of `skipped`.
    not_sent: int
    campaign_id: int
    name: str
    status: str
    recipients_total: int
    parent_id: int | None
    started_at: str | None
    finished_at: str | None
    retryable_failed: int
    failures: list[Failure]
    skips: list[Skip]
    timeline: Timeline
    line_statistics: LineStatistics | None


def _labelled(row: dict) -> dict:
    return {**row, "reason_label": presentation.reason_label(row["reason"])}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _statistics(campaign: Campaign) -> dict | None:
    insight = selectors.campaign_insight(campaign)
    if not campaign.aggregation_unit or insight is None or insight.fetched_at is None:
        return None
    return {
        "aggregation_unit": campaign.aggregation_unit,
        "fetched_at": _iso(insight.fetched_at),
        "delivered": insight.delivered,
        "unique_impression": insight.unique_impression,
        "unique_click": insight.unique_click,
        "url_clicks": insight.url_clicks,
    }


@router.get("/campaigns/{campaign_id}/report", response=CampaignReportOut)
def campaign_report(request: HttpRequest, campaign_id: ObjectId) -> dict:
    require_role(request, *READERS)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    report = selectors.campaign_report(campaign=campaign)
    return {
        **report.figures,
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "recipients_total": campaign.recipients_total,
        "parent_id": campaign.parent_id,
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
        "retryable_failed": report.retryable,
        "failures": [_labelled(f) for f in report.failures],
        "skips": [_labelled(s) for s in report.skips],
        "timeline": {
            "bucket_seconds": report.bucket_seconds,
            "points": [{"t": t, "sent": n} for t, n in report.timeline],
        },
        "line_statistics": _statistics(campaign),
    }


@router.get("/campaigns/{campaign_id}/deliveries.csv")
def campaign_deliveries_csv(request: HttpRequest, campaign_id: ObjectId) -> StreamingHttpResponse:
    """The delivery log as CSV; filters as on the page (status, reason, http_status,
    error_message, line_id)."""
    require_role(request, *READERS)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    form, filters, _ = log_filters(request.GET)
    if form.errors:
        errors = filter_errors(form)
        raise ApiError(400, filter_error_detail(errors), errors)
    services.delivery_export_record(
        campaign=campaign, user=request.user, filters=filters.as_query()
    )
    rows = selectors.delivery_csv_values(campaign=campaign, filters=filters)
    return csv_response(selectors.CSV_COLUMNS, rows, f"campaign-{campaign.pk}-deliveries.csv")
