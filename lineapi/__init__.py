"""Everything the project exchanges with LINE: client, message rules, webhooks, errors."""

from typing import TYPE_CHECKING

from lineapi.errors import (
    LineApiError,
    LineAuthError,
    LineConnectionError,
    LineDuplicateRetryKeyError,
    LineForbiddenError,
    LineInvalidReplyTokenError,
    LineInvalidRequestError,
    LineMonthlyLimitError,
    LineNotFoundError,
    LineRateLimitError,
    LineServerError,
    LineTimeoutError,
    LineTooLargeError,
    line_error_message,
)
from lineapi.messages import (
    LINE_ID_RE,
    MAX_ALT_TEXT,
    MAX_BUTTON_ACTIONS,
    MAX_CAROUSEL_COLUMNS,
    MAX_FLEX_BUBBLE_BYTES,
    MAX_FLEX_CAROUSEL_BUBBLES,
    MAX_FLEX_CAROUSEL_BYTES,
    MAX_MESSAGES,
    MAX_MULTICAST_IDS,
    MAX_QUICK_REPLY_ITEMS,
    MAX_TEMPLATE_ALT_TEXT,
    MAX_TEXT,
    MAX_URL,
    TOO_MANY_MESSAGES,
    grapheme_len,
    normalize_line_id,
    utf16_len,
    validate_messages,
    validate_multicast_ids,
)
from lineapi.webhooks import (
    EVENT_TYPES,
    InvalidEvent,
    WebhookEnvelope,
    WebhookEvent,
    WebhookParseError,
    event_source_id,
    parse_event,
    parse_webhook,
    sign,
    verify_signature,
)

if TYPE_CHECKING:
    from lineapi.client import BotInfo, LineClient, Profile, Quota, SendResult

_CLIENT_NAMES = {"BotInfo", "LineClient", "Profile", "Quota", "SendResult"}


def __getattr__(name: str) -> object:
    # The client pulls in httpx and aiohttp (about a second on a busy machine); the emulator
    # and the message rules do not need them, so the client loads on first use.
    if name in _CLIENT_NAMES:
        from lineapi import client

        return getattr(client, name)
    raise AttributeError(f"module 'lineapi' has no attribute {name!r}")


__all__ = [
    "EVENT_TYPES",
    "LINE_ID_RE",
    "MAX_ALT_TEXT",
    "MAX_BUTTON_ACTIONS",
    "MAX_CAROUSEL_COLUMNS",
    "MAX_FLEX_BUBBLE_BYTES",
    "MAX_FLEX_CAROUSEL_BUBBLES",
    "MAX_FLEX_CAROUSEL_BYTES",
    "MAX_MESSAGES",
    "MAX_MULTICAST_IDS",
    "MAX_QUICK_REPLY_ITEMS",
    "MAX_TEMPLATE_ALT_TEXT",
    "MAX_TEXT",
    "MAX_URL",
    "TOO_MANY_MESSAGES",
    "BotInfo",
    "InvalidEvent",
    "LineApiError",
    "LineAuthError",
    "LineClient",
    "LineConnectionError",
    "LineDuplicateRetryKeyError",
    "LineForbiddenError",
    "LineInvalidReplyTokenError",
    "LineInvalidRequestError",
    "LineMonthlyLimitError",
    "LineNotFoundError",
    "LineRateLimitError",
    "LineServerError",
    "LineTimeoutError",
    "LineTooLargeError",
    "Profile",
    "Quota",
    "SendResult",
    "WebhookEnvelope",
    "WebhookEvent",
    "WebhookParseError",
    "event_source_id",
    "grapheme_len",
    "line_error_message",
    "normalize_line_id",
    "parse_event",
    "parse_webhook",
    "sign",
    "utf16_len",
    "validate_messages",
    "validate_multicast_ids",
    "verify_signature",
]
