"""What the analytics pages, charts and API show of the figures `analytics.selectors` reads:
labels, definitions and chart series. Nothing here queries the database."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

from analytics.selectors import Report
from campaigns import wording

# The figures' and reasons' wording is shared with the journey reports (campaigns.wording).
DEFINITIONS = wording.DEFINITIONS
REASON_LABELS = wording.REASON_LABELS
reason_label = wording.reason_label

MAX_FILLED_POINTS = 3000


def timeline_points(report: Report) -> dict:
    """Chart data: bucket starts and accepted counts, empty buckets filled with zeros."""
    counts = {t: n for t, n in report.timeline}
    if not counts:
        return {"bucket_seconds": report.bucket_seconds, "labels": [], "values": []}
    first = dt.datetime.fromisoformat(min(counts))
    last = dt.datetime.fromisoformat(max(counts))
    step = dt.timedelta(seconds=report.bucket_seconds)
    span = int((last - first) / step) + 1
    if span > MAX_FILLED_POINTS:
        labels = sorted(counts)
    else:
        labels = [(first + i * step).isoformat() for i in range(span)]
    return {
        "bucket_seconds": report.bucket_seconds,
        "labels": labels,
        "values": [counts.get(t, 0) for t in labels],
    }


def every_day(daily: Mapping[str, int]) -> dict[str, int]:
    """Per-day counts with the days in between at zero, so the chart's gaps are real."""
    if not daily:
        return {}
    first, last = dt.date.fromisoformat(min(daily)), dt.date.fromisoformat(max(daily))
    days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return {d.isoformat(): daily.get(d.isoformat(), 0) for d in days}


def quota_chart(quota: list[dict], *, today: dt.date) -> dict:
    """Chart data: every day of the month; per connection, the messages accepted up to each day
    (cumulative, none after today) and its monthly limit when known."""
    first = today.replace(day=1)
    length = calendar.monthrange(first.year, first.month)[1]
    days = [first + dt.timedelta(days=i) for i in range(length)]
    connections = []
    for q in quota:
        total, cumulative = 0, []
        for day in days:
            total += q["per_day"].get(day.isoformat(), 0)
            cumulative.append(total if day <= today else None)
        connections.append(
            {"name": q["connection"].name, "cumulative": cumulative, "limit": q["quota_limit"]}
        )
    return {"labels": [d.isoformat() for d in days], "connections": connections}


def journey_daily_chart(rows: list[dict]) -> dict:
    """Chart data: journey messages per day, replied free and pushed, days between at zero."""
    replied = every_day({r["day"].isoformat(): r["replied"] for r in rows})
    pushed = every_day({r["day"].isoformat(): r["pushed"] for r in rows})
    return {
        "labels": list(replied),
        "replied": list(replied.values()),
        "pushed": list(pushed.values()),
    }


def overview_charts(data: dict) -> dict:
    """The overview's chart series from `selectors.overview`'s figures."""
    return {
        "daily": every_day(data["daily"]),
        "quota_chart": quota_chart(data["quota"], today=data["today"]),
        "journey_chart": journey_daily_chart(data["journey_daily"]),
    }
