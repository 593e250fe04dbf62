"""Webhook signatures and the envelope LINE posts to us."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field


class WebhookParseError(ValueError):
    pass


def sign(channel_secret: str, raw_body: bytes) -> str:
    digest = hmac.new(channel_secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(channel_secret: str, raw_body: bytes, signature: str | None) -> bool:
    # The HMAC is over the bytes LINE sent; re-serialising parsed JSON would change them.
    if not signature or not channel_secret:
        return False
    expected = sign(channel_secret, raw_body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    webhook_event_id: str | None
    timestamp: int | None
    mode: str | None
    is_redelivery: bool
    source_type: str | None
    user_id: str | None
    group_id: str | None
    room_id: str | None
    raw: dict = field(repr=False)

    @property
    def source_id(self) -> str | None:
        return self.group_id or self.room_id or self.user_id


@dataclass(frozen=True)
class WebhookEnvelope:
    destination: str
    events: list[WebhookEvent]


def parse_event(raw: dict) -> WebhookEvent:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise WebhookParseError("each event must be an object with a string 'type'")
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    context = raw.get("deliveryContext") if isinstance(raw.get("deliveryContext"), dict) else {}
    timestamp = raw.get("timestamp")
    return WebhookEvent(
        type=raw["type"],
        webhook_event_id=raw.get("webhookEventId"),
        timestamp=timestamp if isinstance(timestamp, int) else None,
        mode=raw.get("mode"),
        is_redelivery=bool(context.get("isRedelivery", False)),
        source_type=source.get("type"),
        user_id=source.get("userId"),
        group_id=source.get("groupId"),
        room_id=source.get("roomId"),
        raw=raw,
    )


def parse_webhook(raw_body: bytes) -> WebhookEnvelope:
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookParseError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise WebhookParseError("envelope must be an object with a string 'destination'")
    events = data.get("events")
    if not isinstance(events, list):
        raise WebhookParseError("envelope 'events' must be an array")
    return WebhookEnvelope(destination=data["destination"], events=[parse_event(e) for e in events])
