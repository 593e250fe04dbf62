"""Campaigns and delivery rows with mixed outcomes, built directly with the ORM.

Reports read delivery rows; these helpers write rows the way the engine leaves them, so the
report can be checked against counts over the same rows.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.db.models import Count
from django.utils import timezone

from audiences.models import Contact
from campaigns.models import Campaign, Delivery
from connections.models import Connection

_ids = itertools.count(1)

RATE_LIMIT_MSG = "The API rate limit has been exceeded. Try again later."

# (status, reason, http_status, error_message, attempts, how many)
MIXED = [
    ("sent", "", 200, "", 1, 9),
    ("sent", "", 200, "", 3, 2),  # accepted after retries
    ("sent", "", 409, "The retry key is already accepted", 2, 1),
    ("failed", "rate_limit", 429, RATE_LIMIT_MSG, 5, 3),
    ("failed", "server_error", 500, "Internal server error", 5, 2),
    ("failed", "timeout", None, "", 5, 1),
    ("failed", "connection_error", None, "Connection refused", 5, 1),
    ("failed", "unknown_outcome", None, "Outcome unknown: retry key older than 24 h", 1, 1),
    ("failed", "invalid_request", 400, "The request body has 1 error(s)", 1, 2),
    ("failed", "not_found", 404, "Not found", 1, 1),
    ("failed", "personalization", None, "No value for first_name", 0, 1),
    ("skipped", "frequency_cap", None, "", 0, 2),
    ("skipped", "opted_out", None, "", 0, 1),
    ("skipped", "unfollowed", None, "", 0, 1),
]


def line_id(n: int | None = None) -> str:
    return "U" + f"{n if n is not None else next(_ids):032x}"


def connection(name: str = "Main channel", **fields) -> Connection:
    fields.setdefault("channel_access_token", "test-token")
    fields.setdefault("channel_secret", "test-secret")
    fields.setdefault("status", Connection.Status.ACTIVE)
    return Connection.objects.create(name=name, **fields)


def campaign(
    conn: Connection,
    *,
    outcomes: list[tuple] = MIXED,
    status: str = Campaign.Status.COMPLETED,
    name: str = "Autumn sale",
    started_at: dt.datetime | None = None,
    seconds_between: float = 0.4,
    sync_counters: bool = True,
    **fields,
) -> Campaign:
    started_at = started_at or timezone.now() - dt.timedelta(hours=2)
    c = Campaign.objects.create(
        name=name,
        connection=conn,
        status=status,
        messages=[{"type": "text", "text": "Hello"}],
        launched_at=started_at,
        started_at=started_at,
        **fields,
    )
    rows, contacts, at = [], [], started_at
    for status_, reason, http, message, attempts, count in outcomes:
        for _ in range(count):
            at += dt.timedelta(seconds=seconds_between)
            done = status_ in ("sent", "failed", "skipped", "not_sent")
            contact = Contact(line_id=line_id(), kind="user", source="api")
            contacts.append(contact)
            rows.append(
                Delivery(
                    campaign=c,
                    contact=contact,
                    line_id=contact.line_id,
                    status=status_,
                    reason=reason,
                    http_status=http,
                    error_message=message,
                    attempts=attempts,
                    request_id=f"req-{len(rows)}" if http else "",
                    accepted_request_id=f"acc-{len(rows)}" if http == 409 else "",
                    first_attempt_at=at if attempts else None,
                    finished_at=at if done else None,
                )
            )
    Contact.objects.bulk_create(contacts)  # as the engine leaves them: every row has its contact
    Delivery.objects.bulk_create(rows)
    if status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED, Campaign.Status.EXPIRED):
        c.finished_at = at
    c.recipients_total = len(rows)
    c.save()
    if sync_counters:
        counters_from_rows(c)
    return c


def row_counts(c: Campaign) -> dict[str, int]:
    """The figures counted straight from the delivery rows."""
    by = dict(
        Delivery.objects.filter(campaign=c)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    sent, failed = by.get("sent", 0), by.get("failed", 0)
    return {
        "attempted": sent + failed,  # as the engine counts: a row in flight is not attempted yet
        "sent": sent,
        "failed": failed,
        "skipped": by.get("skipped", 0),
        "not_sent": by.get("not_sent", 0),
    }


def counters_from_rows(c: Campaign) -> Campaign:
    """Set the campaign counters as the engine keeps them: exact counts of the rows."""
    Campaign.objects.filter(pk=c.pk).update(**row_counts(c))
    c.refresh_from_db()
    return c
