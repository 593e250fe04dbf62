"""A log filter that masks anything that looks like a LINE secret before it is written."""

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

# Channel access tokens are long base64-ish strings; channel secrets are 32 hex characters.
_SECRET_PATTERNS = [
    re.compile(r"(Bearer\s+)[A-Za-z0-9+/=._\-]{16,}"),
    re.compile(r"(channel_(?:access_token|secret)['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter is off in DEBUG; channel tokens must stay hidden on debug pages too."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|BROKER",
        flags=re.IGNORECASE,
    )

    def is_active(self, request) -> bool:
        return True
