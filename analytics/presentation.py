"""What the analytics pages, charts and API show of the figures `analytics.selectors` reads:
labels, definitions and chart series. Nothing here queries the database."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

from analytics.selectors import Report

REASON_LABELS = {
    "frequency_cap": "Frequency cap reached",
    "opted_out": "Opted out",
    "unfollowed": "Unfollowed (blocked the account)",
    "cancelled": "Cancelled before sending",
    "invalid_request": "Invalid request (400)",
    "rate_limit": "Rate limit (429), retries ran out",
    "server_error": "LINE server error (5xx), retries ran out",
    "timeout": "Timed out, retries ran out",
    "connection_error": "Connection error, retries ran out",
    "personalization": "Personalization failed (placeholder with no value)",
    "personalization_limit": "Personalization hit a template limit (loops, size or time)",
    "unknown_outcome": "Outcome unknown (retry key older than 24 h)",
    "auth": "Channel access token refused (401)",
    "forbidden": "Not allowed for this channel (403)",
    "monthly_limit": "Monthly message limit reached (429)",
    "not_found": "Recipient not found (404)",
    "too_large": "Request too large (413)",
    "expired": "Send-by time passed before sending",
}

# docs/design.md §3: the definitions the seed platforms use, shown on hover next to each figure.
DEFINITIONS = {
    "attempted": (
        "Recipients we tried to send to: not those skipped (frequency cap, opted out, "
        "unfollowed) nor those a cancel or the send-by time left unsent. Attempted = "
        "Successfully sent + Failed."
    ),
    "sent": (
        "LINE accepted the request (HTTP 2xx, or 409 'retry key already accepted'). LINE's "
        "200 means it accepted the message; it does not prove the phone showed it."
    ),
    "failed": (
        "LINE refused the message (4xx other than 409 and rate-limit 429), retries ran out, "
        "or personalization failed (a placeholder with no value and no default)."
    ),
    "skipped": (
        "Not sent on purpose, counted apart from Attempted: frequency cap, opted out or unfollowed."
    ),
    "not_sent": (
        "Never tried: the campaign was cancelled, or its send-by time passed, before these "
        "recipients' turn. Not part of Attempted, and not skipped on purpose."
    ),
}

MAX_FILLED_POINTS = 3000


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code or "—")


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


def overview_charts(data: dict) -> dict:
    """The overview's chart series from `selectors.overview`'s figures."""
    return {
        "daily": every_day(data["daily"]),
        "quota_chart": quota_chart(data["quota"], today=data["today"]),
    }
