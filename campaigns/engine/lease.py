"""The batch lease (docs/design.md §4.6) on the one lease-and-sweep (`kit.leases`,
§1.1): a batch is held while `sending`, `claimed_at` is its heartbeat, and `attempts`, which
every claim moves, is the claim's token."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from campaigns.engine.config import option
from campaigns.models import DeliveryBatch
from kit.leases import Lease

BATCH_LEASE = Lease(
    DeliveryBatch,
    held=DeliveryBatch.Status.SENDING,
    stamp="claimed_at",
    seconds=lambda: option("CAMPAIGN_BATCH_LEASE_SECONDS"),
)


class LeaseLost(Exception):
    """The sweeper gave this batch to another worker; this one stops without writing."""


def batch_held(batch: DeliveryBatch) -> QuerySet[DeliveryBatch]:
    """The batch, as long as this claim holds it."""
    return BATCH_LEASE.held_rows(pk=batch.pk, attempts=batch.attempts)


def batch_renew(batch: DeliveryBatch, now: datetime.datetime) -> bool:
    """The heartbeat: extends this claim's lease; False once the sweeper gave the batch away."""
    return BATCH_LEASE.renew(batch.pk, token={"attempts": batch.attempts}, now=now)
