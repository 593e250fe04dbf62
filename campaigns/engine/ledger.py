"""Writing the ledger (docs/design.md §4.2, §4.8): a batch's finished requests onto their
delivery rows, only rows still `sending`, in the caller's transaction. Each returns the rows
written by status, for `lifecycle.counters_add`."""

from __future__ import annotations

import datetime
import json

from django.db import connection

from campaigns.engine.sender import PENDING, Item
from campaigns.models import Delivery, DeliveryBatch

_COLUMNS = {
    "id": "bigint",
    "status": "text",
    "reason": "text",
    "http_status": "integer",
    "request_id": "text",
    "accepted_request_id": "text",
    "error_message": "text",
    "error_details": "jsonb",
    "attempts": "integer",
    "first_attempt_at": "timestamptz",
    "finished_at": "timestamptz",
}
_SET = ", ".join(f"{c} = v.{c}" for c in list(_COLUMNS)[1:])
# PostgreSQL gets the rows as one JSON parameter: binding thousands of placeholders costs more
# client CPU than the UPDATE itself.
_PG_UPDATE = f"""
    WITH v AS (
        SELECT * FROM jsonb_to_recordset(%s::jsonb)
        AS v({", ".join(f"{c} {t}" for c, t in _COLUMNS.items())})
    )
    UPDATE campaigns_delivery SET {_SET}
    FROM v
    WHERE campaigns_delivery.id = v.id AND campaigns_delivery.status = 'sending'
    RETURNING campaigns_delivery.status
"""


def _row_values(item: Item, delivery_id: int, now: datetime.datetime, pg: bool) -> tuple:
    attempts = item.prior_attempts + item.tried
    first_at = item.accepted_since()
    finished = now if item.outcome != PENDING else None
    if pg:
        stamp = datetime.datetime.isoformat
        first_at, finished = first_at and stamp(first_at), finished and stamp(finished)
        details = item.error_details
    else:
        adapt = connection.ops.adapt_datetimefield_value
        first_at, finished = adapt(first_at), adapt(finished)
        details = json.dumps(item.error_details)
    return (
        delivery_id,
        item.outcome,
        item.reason,
        item.http_status,
        item.request_id[:64],
        item.accepted_request_id[:64],
        item.error_message,
        details,
        attempts,
        first_at,
        finished,
    )


def _sqlite_update(n: int) -> str:
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"] * n)
    return f"""
        WITH v ({", ".join(_COLUMNS)}) AS (VALUES {placeholders})
        UPDATE campaigns_delivery SET {_SET}
        FROM v
        WHERE campaigns_delivery.id = v.id AND campaigns_delivery.status = 'sending'
        RETURNING campaigns_delivery.status
    """


def write_rows(items: list[Item], now: datetime.datetime) -> dict[str, int]:
    """One UPDATE for every finished row, only rows still `sending`; returns counts by status."""
    pg = connection.vendor == "postgresql"
    rows = [_row_values(item, i, now, pg) for item in items for i in item.ids]
    counts: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        if pg:
            keys = list(_COLUMNS)
            sql, params = _PG_UPDATE, [json.dumps([dict(zip(keys, r, strict=True)) for r in chunk])]
        else:
            sql, params = _sqlite_update(len(chunk)), [value for row in chunk for value in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for (status,) in cursor.fetchall():
                counts[status] = counts.get(status, 0) + 1
    return counts


def write_multicast(item: Item, batch: DeliveryBatch, now: datetime.datetime) -> dict[str, int]:
    """Every open row of the batch shares the one request's outcome: one UPDATE."""
    attempts = item.prior_attempts + item.tried
    first_at = item.accepted_since()
    DeliveryBatch.objects.filter(pk=batch.pk).update(first_attempt_at=first_at)
    n = Delivery.objects.filter(
        campaign_id=batch.campaign_id, batch=batch.number, status__in=Delivery.OPEN
    ).update(
        status=item.outcome,
        reason=item.reason,
        http_status=item.http_status,
        request_id=item.request_id[:64],
        accepted_request_id=item.accepted_request_id[:64],
        error_message=item.error_message,
        error_details=item.error_details,
        attempts=attempts,
        first_attempt_at=first_at,
        finished_at=now if item.outcome != PENDING else None,
    )
    return {item.outcome: n}
