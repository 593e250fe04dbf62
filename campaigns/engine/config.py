"""Engine knobs: a Django setting wins, then the environment (so a worker subprocess can be
tuned), then the default."""

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    "CAMPAIGN_BATCH_SIZE": 500,
    # Requests in flight inside one batch task.
    "CAMPAIGN_SEND_CONCURRENCY": 200,
    # A running batch renews its lease this often (its heartbeat).
    "CAMPAIGN_HEARTBEAT_SECONDS": 5.0,
    # A batch whose last heartbeat is older than this lost its worker: the sweeper (every 10 s)
    # hands it to another one.
    "CAMPAIGN_BATCH_LEASE_SECONDS": 20.0,
    # A batch queued this long ago and still not claimed, while the broker holds no message
    # waiting in the campaigns queue, lost its message (a broker restart): it is queued again.
    "CAMPAIGN_DISPATCH_TIMEOUT_SECONDS": 20.0,
    # A batch queued but never claimed for this long is queued again whatever the broker says.
    "CAMPAIGN_REQUEUE_AFTER_SECONDS": 600.0,
    "CAMPAIGN_MAX_ATTEMPTS": 5,
    "CAMPAIGN_RETRY_BASE_SECONDS": 0.5,
    "CAMPAIGN_RETRY_MAX_SECONDS": 8.0,
    # How often a running batch re-reads the campaign's status (pause, cancel, deadline).
    "CAMPAIGN_CONTROL_INTERVAL_SECONDS": 0.5,
    # LINE keeps a retry key for 24 hours; past that a resend could deliver twice.
    "CAMPAIGN_RETRY_KEY_TTL_SECONDS": 24 * 3600,
    "CAMPAIGN_READ_TIMEOUT_SECONDS": 10.0,
}


def option(name: str) -> float:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return DEFAULTS[name]
    return type(DEFAULTS[name])(value)
