"""What the delivery figures and the reasons of a failure or a skip are called wherever they
are shown: campaign reports and the overview (analytics), journey reports, the API. One wording,
docs/design.md §3."""

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


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code or "—")
