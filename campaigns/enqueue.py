"""The campaigns queue (docs/design.md §4): the engine's tasks queued by name, and what the
broker holds. Services and the engine import this module, never `campaigns.tasks`, which
imports them (§1.1)."""

from __future__ import annotations

import logging

from celery import current_app
from kombu.exceptions import ChannelError, OperationalError

from kit.enqueue import enqueue

log = logging.getLogger(__name__)

QUEUE = "campaigns"
START_CAMPAIGN = "campaigns.start_campaign"
SEND_BATCH = "campaigns.send_batch"


def enqueue_start(campaign_id: int) -> None:
    try:
        enqueue(START_CAMPAIGN, campaign_id, queue=QUEUE)
    except OperationalError as exc:
        log.warning("campaign %s: broker unreachable (%s); the sweeper starts it", campaign_id, exc)


def enqueue_batches(campaign_id: int, numbers: list[int]) -> None:
    """One task per batch. The batches are already stamped as dispatched: if the broker is
    unreachable the rest are left to the sweeper rather than each waiting out its retries."""
    for number in numbers:
        try:
            enqueue(SEND_BATCH, campaign_id, number, queue=QUEUE)
        except OperationalError as exc:
            log.warning(
                "campaign %s: broker unreachable (%s); the sweeper sends its batches",
                campaign_id,
                exc,
            )
            return


def campaigns_queue_waiting() -> int | None:
    """Messages waiting in the campaigns queue (not those a worker holds), or None when the
    broker cannot say."""
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return conn.default_channel.queue_declare(queue=QUEUE, passive=True).message_count
    except ChannelError:
        return 0  # Redis keeps no empty list: a queue it does not know holds nothing
    except OperationalError:
        return None
