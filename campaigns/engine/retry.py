"""Which LINE answers are retried, after how long, and the reason code each failure gets."""

from __future__ import annotations

import random

from campaigns.engine.config import option
from lineapi import (
    LineApiError,
    LineAuthError,
    LineConnectionError,
    LineForbiddenError,
    LineInvalidRequestError,
    LineMonthlyLimitError,
    LineNotFoundError,
    LineRateLimitError,
    LineServerError,
    LineTimeoutError,
    LineTooLargeError,
)

REASONS: list[tuple[type[LineApiError], str]] = [
    (LineInvalidRequestError, "invalid_request"),
    (LineAuthError, "auth"),
    (LineForbiddenError, "forbidden"),
    (LineNotFoundError, "not_found"),
    (LineTooLargeError, "too_large"),
    (LineRateLimitError, "rate_limit"),
    (LineMonthlyLimitError, "monthly_limit"),
    (LineServerError, "server_error"),
    (LineTimeoutError, "timeout"),
    (LineConnectionError, "connection_error"),
]
# Answers that stop the whole campaign (it is paused with the reason shown), not one recipient.
HALTING = (LineMonthlyLimitError, LineAuthError)
# Answers after which LINE may have accepted the request without us hearing about it. Any
# other answer is definite: had LINE accepted the key before, it would have answered 409.
UNCERTAIN = ("timeout", "connection_error", "server_error")


def reason_for(exc: LineApiError) -> str:
    for cls, reason in REASONS:
        if isinstance(exc, cls):
            return reason
    return "invalid_request" if exc.status and exc.status < 500 else "server_error"


def is_retryable(exc: LineApiError) -> bool:
    """Timeouts, connection errors, 5xx and the rate-limit 429; never another 4xx."""
    return bool(exc.retryable)


def backoff_seconds(attempt: int) -> float:
    """Exponential with equal jitter: half the step fixed, half random."""
    step = min(
        option("CAMPAIGN_RETRY_MAX_SECONDS"),
        option("CAMPAIGN_RETRY_BASE_SECONDS") * 2 ** max(attempt - 1, 0),
    )
    return step / 2 + random.uniform(0, step / 2)


def halt_message(exc: LineApiError) -> str:
    if isinstance(exc, LineMonthlyLimitError):
        return (
            "LINE's monthly message limit was reached. Raise the limit in LINE Official "
            "Account Manager, then resume."
        )
    return (
        "LINE rejected the channel access token (401). Update the connection's token, then resume."
    )
