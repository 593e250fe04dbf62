"""One family of errors for everything LINE (or the network on the way) can answer."""

from __future__ import annotations

from typing import Any

RATE_LIMIT_MESSAGE = "The API rate limit has been exceeded. Try again later."
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
RETRY_KEY_ACCEPTED_MESSAGE = "The retry key is already accepted"
INVALID_REPLY_TOKEN_MESSAGE = "Invalid reply token"


class LineApiError(Exception):
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: list[dict] | None = None,
        request_id: str | None = None,
        accepted_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.accepted_request_id = accepted_request_id

    def __str__(self) -> str:
        head = f"{self.status} {self.message}" if self.status else self.message
        if not self.details:
            return head
        parts = "; ".join(f"{d.get('property', '?')}: {d.get('message', '')}" for d in self.details)
        return f"{head} ({parts})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"request_id={self.request_id!r})"
        )


class LineAuthError(LineApiError):
    pass


class LineForbiddenError(LineApiError):
    pass


class LineInvalidRequestError(LineApiError):
    pass


class LineInvalidReplyTokenError(LineInvalidRequestError):
    """400 "Invalid reply token": the token is unknown, used or expired; the caller pushes
    instead (docs/design.md §6)."""


class LineNotFoundError(LineApiError):
    pass


class LineDuplicateRetryKeyError(LineApiError):
    """409: LINE already accepted a request with this retry key; the caller counts it as sent."""

    def __init__(self, message: str, *, sent_messages: list[dict] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.sent_messages = sent_messages or []


class LineRateLimitError(LineApiError):
    retryable = True


class LineMonthlyLimitError(LineApiError):
    pass


class LineTooLargeError(LineApiError):
    pass


class LineServerError(LineApiError):
    retryable = True


class LineTimeoutError(LineApiError):
    retryable = True


class LineConnectionError(LineApiError):
    retryable = True


_BY_STATUS: dict[int, type[LineApiError]] = {
    400: LineInvalidRequestError,
    401: LineAuthError,
    403: LineForbiddenError,
    404: LineNotFoundError,
    409: LineDuplicateRetryKeyError,
    413: LineTooLargeError,
}


def error_for_status(status: int, message: str) -> type[LineApiError]:
    if status == 400 and message == INVALID_REPLY_TOKEN_MESSAGE:
        return LineInvalidReplyTokenError
    if status == 429:
        return LineMonthlyLimitError if "monthly limit" in message else LineRateLimitError
    if status >= 500:
        return LineServerError
    return _BY_STATUS.get(status, LineApiError)


def line_error_message(exc: LineApiError, *, base_url: str) -> str:
    """A sentence an admin can act on, with LINE's own reason kept in it."""
    if isinstance(exc, LineAuthError):
        return (
            "LINE rejected the channel access token (401): check that you copied the "
            f"long-lived token of this channel. LINE said: {exc.message}"
        )
    if isinstance(exc, LineTimeoutError | LineConnectionError):
        return f"Could not reach {base_url}: {exc.message}"
    if isinstance(exc, LineForbiddenError):
        return f"LINE refused access (403): {exc.message}"
    return f"LINE answered {exc}"
