"""Reads behind every analytics page, the JSON report and the CSV export: figures only, and no
writes (docs/design.md §3.1). Labels and chart series are in `analytics.presentation`.

Headline figures are the campaign counters (a cache of the delivery rows that the engine keeps
exact). Grouped figures (failure breakdown, skip reasons, timeline) are counted over the
delivery rows; for a settled campaign the task `analytics.materialize_reports` keeps them in
`CampaignReport`, so a report page does not scan a campaign's rows again. Per-day figures are in
the viewer's time zone (the active one), so they are derived from the timeline when shown.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc, TruncDate
from django.utils import timezone

from analytics.models import CampaignInsight, CampaignReport
from campaigns.models import FIGURES, RETRYABLE_REASONS, Campaign, Delivery, figures_from_counts
from campaigns.selectors import campaign_done, campaign_in_flight
from connections.models import Connection
from journeys.selectors import journey_sends_per_day, quota_free_replies
from kit.cache import cache_get, cache_get_or_compute, cache_set

UTC = dt.UTC

# Timeline resolution: per second up to 15 minutes of sending, per minute up to 2 days.
BUCKETS = ((15 * 60, 1, "second"), (2 * 86400, 60, "minute"), (None, 3600, "hour"))
RATE_WINDOW_S = 30
LIVE_COUNT_TTL_S = 10


@dataclass
class Report:
    campaign: Campaign
    status_counts: dict[str, int]
    failures: list[dict]
    skips: list[dict]
    bucket_seconds: int
    timeline: list[list]
    computed_at: dt.datetime | None = None
    settled: bool = False
    retryable: int = 0
    permanent: list[dict] = field(default_factory=list)

    @property
    def figures(self) -> dict[str, int]:
        return self.campaign.figures

    @property
    def row_figures(self) -> dict[str, int]:
        return figures_from_counts(self.status_counts)

    @property
    def counters_disagree(self) -> bool:
        return self.settled and self.figures != self.row_figures


def campaign_counters(campaign: Campaign) -> list[int]:
    return list(campaign.figures.values())


def campaign_is_settled(campaign: Campaign) -> bool:
    """Finished and with no request in flight: its delivery rows will not change any more."""
    if campaign.status not in Campaign.FINISHED:
        return False
    return not Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENDING).exists()


def bucket_for(campaign: Campaign) -> tuple[int, str]:
    start = campaign.started_at or campaign.launched_at
    end = campaign.finished_at or timezone.now()
    seconds = (end - start).total_seconds() if start else 0
    for limit, size, kind in BUCKETS:
        if limit is None or seconds <= limit:
            return size, kind
    raise AssertionError("unreachable")


def report_count(campaign: Campaign) -> dict:
    """Every grouped figure of one campaign, counted over its delivery rows."""
    rows = Delivery.objects.filter(campaign=campaign)
    status_counts = dict(
        rows.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    failures = [
        {"reason": r, "http_status": s, "error_message": m, "count": n}
        for r, s, m, n in rows.filter(status=Delivery.Status.FAILED)
        .order_by()
        .values_list("reason", "http_status", "error_message")
        .annotate(n=Count("id"))
        .values_list("reason", "http_status", "error_message", "n")
    ]
    failures.sort(key=lambda f: (-f["count"], f["reason"], f["http_status"] or 0))
    skips = [
        {"reason": r, "count": n}
        for r, n in rows.filter(status=Delivery.Status.SKIPPED)
        .order_by()
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    ]
    skips.sort(key=lambda s: (-s["count"], s["reason"]))
    size, kind = bucket_for(campaign)
    buckets = (
        rows.filter(status=Delivery.Status.SENT, finished_at__isnull=False)
        .order_by()
        .annotate(t=Trunc("finished_at", kind, tzinfo=UTC))
        .values_list("t")
        .annotate(n=Count("id"))
        .values_list("t", "n")
    )
    timeline = sorted([t.astimezone(UTC).isoformat(), n] for t, n in buckets)
    return {
        "status_counts": status_counts,
        "failures": failures,
        "skips": skips,
        "bucket_seconds": size,
        "timeline": timeline,
    }


def _report_from(campaign: Campaign, data: dict, **extra) -> Report:
    report = Report(campaign=campaign, **data, **extra)
    report.retryable = sum(f["count"] for f in report.failures if f["reason"] in RETRYABLE_REASONS)
    permanent: Counter[str] = Counter()
    for f in report.failures:
        if f["reason"] not in RETRYABLE_REASONS:
            permanent[f["reason"]] += f["count"]
    report.permanent = [{"reason": r, "count": n} for r, n in permanent.most_common()]
    return report


def _snapshot_data(snapshot: CampaignReport) -> dict:
    return {
        "status_counts": snapshot.status_counts,
        "failures": snapshot.failures,
        "skips": snapshot.skips,
        "bucket_seconds": snapshot.bucket_seconds,
        "timeline": snapshot.timeline,
    }


def snapshot_is_current(snapshot: CampaignReport | None, campaign: Campaign) -> bool:
    return snapshot is not None and snapshot.counters == campaign_counters(campaign)


def campaign_report(*, campaign: Campaign, snapshot: CampaignReport | None = None) -> Report:
    """The report of one campaign: kept figures when they are current, counted otherwise."""
    if snapshot is None:
        snapshot = CampaignReport.objects.filter(campaign=campaign).first()
    if snapshot_is_current(snapshot, campaign):
        return _report_from(
            campaign, _snapshot_data(snapshot), computed_at=snapshot.computed_at, settled=True
        )
    if campaign_is_settled(campaign):
        # Its rows do not change any more: counted now, kept by `analytics.materialize_reports`.
        return _report_from(
            campaign, report_count(campaign), computed_at=timezone.now(), settled=True
        )
    # A sending campaign's rows change every second: count them at most every few seconds,
    # however many analysts have the page open (the headline counters stay live).
    counted = cache_get_or_compute(
        f"analytics:live:{campaign.pk}",
        lambda: {"data": report_count(campaign), "at": timezone.now()},
        LIVE_COUNT_TTL_S,
    )
    return _report_from(campaign, counted["data"], computed_at=counted["at"])


def accepted_per_day(report: Report, tz: dt.tzinfo) -> dict[str, int]:
    """Messages accepted per day in `tz`, from the timeline when each of its buckets lies in one
    day of `tz` (buckets of a second or a minute always do, hours do in whole-hour zones),
    otherwise counted over the campaign's sent rows."""
    daily: Counter[str] = Counter()
    last_instant = dt.timedelta(seconds=report.bucket_seconds) - dt.timedelta(microseconds=1)
    for t, n in report.timeline:
        start = dt.datetime.fromisoformat(t)
        day = start.astimezone(tz).date()
        if (start + last_instant).astimezone(tz).date() != day:
            return _count_per_day(report.campaign, tz)
        daily[day.isoformat()] += n
    return dict(daily)


def _count_per_day(campaign: Campaign, tz: dt.tzinfo) -> dict[str, int]:
    days = (
        Delivery.objects.filter(
            campaign=campaign, status=Delivery.Status.SENT, finished_at__isnull=False
        )
        .order_by()
        .annotate(day=TruncDate("finished_at", tzinfo=tz))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return {day.isoformat(): n for day, n in days}


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def send_rate(campaign: Campaign) -> float | None:
    """Messages accepted per second over the last ~30 s, from samples of the sent counter."""
    now = timezone.now().timestamp()
    key = f"analytics:rate:{campaign.pk}"
    samples = [s for s in cache_get(key, []) if now - s[0] <= RATE_WINDOW_S]
    if not samples or now - samples[-1][0] >= 1:
        samples.append((now, campaign.sent))
    cache_set(key, samples, RATE_WINDOW_S * 2)
    oldest = samples[0]
    if now - oldest[0] < 1:
        return None
    return max(campaign.sent - oldest[1], 0) / (now - oldest[0])


def progress(campaign: Campaign) -> dict:
    """A finished campaign shows its final figures and no share done; while the answers to
    requests in flight when it stopped are still written (`in_flight`), they keep updating."""
    done, percent = campaign_done(campaign=campaign)
    in_flight = campaign_in_flight(campaign=campaign)
    return {
        "done": done,
        "total": campaign.recipients_total,
        "percent": percent,
        "rate": send_rate(campaign) if campaign.status == Campaign.Status.SENDING else None,
        "in_flight": in_flight,
        "live": campaign.status in (*Campaign.LIVE, Campaign.Status.SCHEDULED) or bool(in_flight),
    }


def campaign_insight(campaign: Campaign) -> CampaignInsight | None:
    return CampaignInsight.objects.filter(campaign=campaign).first()


# The delivery log -------------------------------------------------------------------------


@dataclass
class LogFilters:
    """Delivery-log filters; `http_status=0` selects rows without an HTTP answer and an
    `error_message` of "" (not None) selects rows with an empty message."""

    status: str = ""
    reason: str = ""
    http_status: int | None = None
    error_message: str | None = None
    line_id: str = ""

    def as_query(self) -> dict[str, str]:
        query = {"status": self.status, "reason": self.reason, "line_id": self.line_id}
        if self.http_status is not None:
            query["http_status"] = str(self.http_status)
        if self.error_message is not None:
            query["error_message"] = self.error_message
        return {k: v for k, v in query.items() if v != "" or k == "error_message"}


def delivery_rows(*, campaign: Campaign, filters: LogFilters) -> QuerySet[Delivery]:
    rows = Delivery.objects.filter(campaign=campaign)
    if filters.status == "attempted":
        rows = rows.filter(status__in=Delivery.ATTEMPTED)
    elif filters.status:
        rows = rows.filter(status=filters.status)
    if filters.reason:
        rows = rows.filter(reason=filters.reason)
    if filters.http_status == 0:
        rows = rows.filter(http_status__isnull=True)
    elif filters.http_status is not None:
        rows = rows.filter(http_status=filters.http_status)
    if filters.error_message is not None:
        rows = rows.filter(error_message=filters.error_message)
    if filters.line_id:
        # A whole id uses the (campaign, line_id) index; a part of one is a prefix search.
        if len(filters.line_id) == 33:
            rows = rows.filter(line_id=filters.line_id)
        else:
            rows = rows.filter(line_id__startswith=filters.line_id)
    return rows.order_by("id")


def delivery_log_page(
    *, campaign: Campaign, filters: LogFilters, after: int = 0, size: int = 50
) -> tuple[list[Delivery], int | None]:
    """One keyset page (`id > after`, in id order) and the `after` of the next page."""
    rows = list(
        delivery_rows(campaign=campaign, filters=filters)
        .filter(id__gt=after)
        .select_related(None)
        .defer("error_details", "retry_key")[: size + 1]
    )
    if len(rows) > size:
        return rows[:size], rows[size - 1].id
    return rows, None


# CSV header → the field it is read from; the contact's fields come in the same query (a join),
# so a chunk of rows is still one query. A deleted contact leaves them empty.
CSV_FIELDS = {
    "line_id": "line_id",
    "display_name": "contact__display_name",
    "external_id": "contact__external_id",
    "status": "status",
    "reason": "reason",
    "http_status": "http_status",
    "error_message": "error_message",
    "attempts": "attempts",
    "request_id": "request_id",
    "accepted_request_id": "accepted_request_id",
    "first_attempt_at": "first_attempt_at",
    "finished_at": "finished_at",
}
CSV_COLUMNS = tuple(CSV_FIELDS)


def delivery_csv_values(*, campaign: Campaign, filters: LogFilters) -> Iterator[tuple]:
    return (
        delivery_rows(campaign=campaign, filters=filters)
        .values_list(*CSV_FIELDS.values())
        .iterator(chunk_size=2000)
    )


# The overview -------------------------------------------------------------------------------


def campaigns_in_range(start: dt.date, end: dt.date) -> QuerySet[Campaign]:
    """Campaigns launched between `start` and `end` (inclusive, days in the active time zone)."""
    tz = timezone.get_current_timezone()
    lo, hi = local_midnight(start, tz), local_midnight(end + dt.timedelta(days=1), tz)
    return (
        Campaign.objects.filter(launched_at__gte=lo, launched_at__lt=hi)
        .select_related("connection")
        .order_by("-launched_at", "-id")
    )


def reports_for(campaigns: list[Campaign]) -> list[Report]:
    snapshots = CampaignReport.objects.in_bulk([c.pk for c in campaigns])
    return [campaign_report(campaign=c, snapshot=snapshots.get(c.pk)) for c in campaigns]


def overview(*, start: dt.date, end: dt.date) -> dict:
    """Days are those of the active time zone (the viewer's, from the `tz` cookie)."""
    tz = timezone.get_current_timezone()
    campaigns = list(campaigns_in_range(start, end))
    reports = reports_for(campaigns)
    totals = {"campaigns": len(campaigns), **dict.fromkeys(FIGURES, 0)}
    daily: Counter[str] = Counter()
    reasons: dict[str, dict] = {}
    for report in reports:
        for key, value in report.figures.items():
            totals[key] += value
        daily.update(accepted_per_day(report, tz))
        for f in report.failures:
            entry = reasons.setdefault(f["reason"], {"reason": f["reason"], "count": 0, "by": {}})
            entry["count"] += f["count"]
            entry["by"][report.campaign] = entry["by"].get(report.campaign, 0) + f["count"]
    today = timezone.localdate()
    quota = quota_use(today=today)
    month_start = local_midnight(today.replace(day=1), tz)
    top = sorted(reasons.values(), key=lambda r: (-r["count"], r["reason"]))[:10]
    for entry in top:
        entry["by"] = sorted(entry["by"].items(), key=lambda kv: -kv[1])
    return {
        "start": start,
        "end": end,
        "time_zone": timezone.get_current_timezone_name(),
        "totals": totals,
        "reports": reports,
        "daily": dict(daily),
        "top_reasons": top,
        "quota": quota,
        "today": today,
        "journey_daily": journey_sends_in_range(start, end, today),
        "journey_quota": quota_free_replies(since=month_start),
    }


def journey_sends_in_range(start: dt.date, end: dt.date, today: dt.date) -> list[dict]:
    """Journey messages accepted per day from `start` to `end` (days in the active time zone),
    replied free and pushed. Journeys have no launch day: every send of those days counts."""
    days = (today - start).days + 1  # reaches back past the start day's midnight
    return [d for d in journey_sends_per_day(days=days) if start <= d["day"] <= end]


def quota_use(*, today: dt.date) -> list[dict]:
    """Per connection: messages LINE accepted from our campaigns on each day of this month (days
    in the active time zone), and LINE's own quota figures as last fetched."""
    tz = timezone.get_current_timezone()
    month = today.strftime("%Y-%m")
    month_start = local_midnight(today.replace(day=1), tz)
    active = list(
        Campaign.objects.filter(launched_at__isnull=False)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=month_start))
        .select_related("connection")
    )
    per_day: defaultdict[int, Counter[str]] = defaultdict(Counter)
    for report in reports_for(active):
        days = accepted_per_day(report, tz)
        per_day[report.campaign.connection_id].update(
            {day: n for day, n in days.items() if day.startswith(month)}
        )
    return [
        {
            "connection": connection,
            "sent_this_month": sum(per_day[connection.pk].values()),
            "per_day": dict(per_day[connection.pk]),
            "quota_used": connection.quota_used,
            "quota_limit": connection.quota_limit if connection.quota_type != "none" else None,
            "checked_at": connection.quota_checked_at,
        }
        for connection in Connection.objects.order_by("name")
    ]
