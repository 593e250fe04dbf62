"""Webhook signatures and the envelope LINE posts to us."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from lineapi import strictjson


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


# The `Event` discriminator of LINE's webhook.yml. Other types are kept as the raw dict: LINE
# adds event types over time and a new one must never make us drop a delivery.
EVENT_TYPES = frozenset(
    {
        "message",
        "unsend",
        "follow",
        "unfollow",
        "join",
        "leave",
        "memberJoined",
        "memberLeft",
        "postback",
        "videoPlayComplete",
        "beacon",
        "accountLink",
        "membership",
        "module",
        "activated",
        "deactivated",
        "botSuspended",
        "botResumed",
        "delivery",
    }
)


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
    reply_token: str | None
    message: dict | None  # message events
    postback_data: str | None  # postback events
    postback_params: dict | None
    is_unblocked: bool | None  # follow events
    joined_user_ids: list[str]  # memberJoined events
    left_user_ids: list[str]  # memberLeft events
    raw: dict = field(repr=False)

    @property
    def source_id(self) -> str | None:
        return event_source_id(self.raw)


@dataclass(frozen=True)
class InvalidEvent:
    """An item of `events` that is not an object with a string `type`: kept, to be stored as
    failed with its error, while the other events of the delivery go on."""

    raw: Any
    error: str


@dataclass(frozen=True)
class WebhookEnvelope:
    destination: str
    events: list[WebhookEvent | dict | InvalidEvent]


def _object(raw: dict, key: str) -> dict:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def event_source_id(raw: dict) -> str | None:
    """The conversation an event comes from (group, room or user), typed or raw."""
    source = _object(raw, "source")
    return source.get("groupId") or source.get("roomId") or source.get("userId")


def _member_ids(raw: dict, key: str) -> list[str]:
    members = _object(raw, key).get("members")
    if not isinstance(members, list):
        return []
    return [
        m["userId"] for m in members if isinstance(m, dict) and isinstance(m.get("userId"), str)
    ]


def _check_strings(raw: dict, where: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise WebhookParseError(f"{where}{key} must be a string, not {raw[key]!r:.50}")


def parse_event(raw: dict) -> WebhookEvent | dict:
    """A typed event for the types in webhook.yml; any other type comes back as `raw` itself."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise WebhookParseError("each event must be an object with a string 'type'")
    if raw["type"] not in EVENT_TYPES:
        return raw
    source, postback = _object(raw, "source"), _object(raw, "postback")
    _check_strings(raw, "", ("webhookEventId", "mode", "replyToken"))
    _check_strings(source, "source.", ("type", "userId", "groupId", "roomId"))
    timestamp, follow = raw.get("timestamp"), _object(raw, "follow")
    return WebhookEvent(
        type=raw["type"],
        webhook_event_id=raw.get("webhookEventId"),
        timestamp=timestamp if isinstance(timestamp, int) else None,
        mode=raw.get("mode"),
        is_redelivery=bool(_object(raw, "deliveryContext").get("isRedelivery", False)),
        source_type=source.get("type"),
        user_id=source.get("userId"),
        group_id=source.get("groupId"),
        room_id=source.get("roomId"),
        reply_token=raw.get("replyToken"),
        message=raw.get("message") if isinstance(raw.get("message"), dict) else None,
        postback_data=postback.get("data") if isinstance(postback.get("data"), str) else None,
        postback_params=_object(postback, "params") or None,
        is_unblocked=bool(follow.get("isUnblocked")) if raw["type"] == "follow" else None,
        joined_user_ids=_member_ids(raw, "joined"),
        left_user_ids=_member_ids(raw, "left"),
        raw=raw,
    )


def _parse_or_invalid(raw: Any) -> WebhookEvent | dict | InvalidEvent:
    try:
        return parse_event(raw)
    except WebhookParseError as exc:
        return InvalidEvent(raw=raw, error=str(exc))


def parse_webhook(raw_body: bytes) -> WebhookEnvelope:
    """The envelope, or WebhookParseError when the envelope itself is unusable. One event that
    is not an event does not spoil the others (InvalidEvent), and a value no database stores
    (nested too deep, NaN) is kept as a string (see `strictjson.loads(keep=True)`)."""
    try:
        data = strictjson.loads(raw_body, keep=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookParseError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise WebhookParseError("envelope must be an object with a string 'destination'")
    events = data.get("events")
    if not isinstance(events, list):
        raise WebhookParseError("envelope 'events' must be an array")
    return WebhookEnvelope(
        destination=data["destination"], events=[_parse_or_invalid(e) for e in events]
    )
