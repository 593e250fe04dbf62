from __future__ import annotations

import json

import httpx
import pytest
import yaml

from lineapi import (
    EVENT_TYPES,
    InvalidEvent,
    WebhookEvent,
    WebhookParseError,
    event_source_id,
    parse_event,
    parse_webhook,
    sign,
    verify_signature,
)
from tests.lineapi.contract import SPECS, OpenAPIRequest, openapi

LINE_BODY = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
LINE_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
LINE_SIGNATURE = "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs="
USER = "U" + "a" * 32
GROUP = "C" + "b" * 32
ROOM = "R" + "c" * 32


def test_lines_published_signature_vector_verifies() -> None:
    assert sign(LINE_SECRET, LINE_BODY) == LINE_SIGNATURE
    assert verify_signature(LINE_SECRET, LINE_BODY, LINE_SIGNATURE)


def test_a_tampered_body_fails() -> None:
    tampered = LINE_BODY.replace(b"[]", b"[ ]")
    assert not verify_signature(LINE_SECRET, tampered, LINE_SIGNATURE)


def test_a_tampered_signature_fails() -> None:
    assert not verify_signature(LINE_SECRET, LINE_BODY, "A" + LINE_SIGNATURE[1:])


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_fails(signature: str | None) -> None:
    assert not verify_signature(LINE_SECRET, LINE_BODY, signature)


def test_another_channels_secret_fails() -> None:
    assert not verify_signature("0" * 32, LINE_BODY, LINE_SIGNATURE)


def _base(kind: str, source: dict | None = None, **extra: object) -> dict:
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": 1462629479859,
        "webhookEventId": f"01FZ74A0TDDPYRVKNK77XKC3ZR{kind[:2]}",
        "deliveryContext": {"isRedelivery": False},
        **extra,
    }
    if source is not None:
        event["source"] = source
    return event


U = {"type": "user", "userId": USER}
G = {"type": "group", "groupId": GROUP, "userId": USER}
R = {"type": "room", "roomId": ROOM, "userId": USER}
# One event of every type in LINE's webhook.yml discriminator mapping.
EVENTS = {
    "message": _base(
        "message", U, replyToken="r", message={"type": "text", "id": "1", "text": "hi"}
    ),
    "unsend": _base("unsend", G, unsend={"messageId": "325708"}),
    "follow": _base("follow", U, replyToken="r", follow={"isUnblocked": True}),
    "unfollow": _base("unfollow", U),
    "join": _base("join", G, replyToken="r"),
    "leave": _base("leave", R),
    "memberJoined": _base("memberJoined", G, replyToken="r", joined={"members": [U]}),
    "memberLeft": _base("memberLeft", G, left={"members": [U]}),
    "postback": _base("postback", U, replyToken="r", postback={"data": "a=1"}),
    "videoPlayComplete": _base(
        "videoPlayComplete", U, replyToken="r", videoPlayComplete={"trackingId": "t"}
    ),
    "beacon": _base("beacon", U, replyToken="r", beacon={"hwid": "d41d8cd98f", "type": "enter"}),
    "accountLink": _base("accountLink", U, replyToken="r", link={"result": "ok", "nonce": "n"}),
    "membership": _base(
        "membership", U, replyToken="r", membership={"type": "joined", "membershipId": 3189}
    ),
    "module": _base("module", U, module={"type": "attached", "botId": USER, "scopes": ["x"]}),
    "activated": _base("activated", U, chatControl={"expireAt": 1462629479860}),
    "deactivated": _base("deactivated", U),
    "botSuspended": _base("botSuspended"),
    "botResumed": _base("botResumed"),
    "delivery": _base("delivery", delivery={"data": "hash"}),
}


def _envelope(*events: dict) -> bytes:
    return json.dumps({"destination": USER, "events": list(events)}).encode()


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_event_type_in_webhook_yml_parses(kind: str) -> None:
    raw = EVENTS[kind]
    envelope = parse_webhook(_envelope(raw))
    event = envelope.events[0]
    assert envelope.destination == USER
    assert event.type == kind
    assert event.webhook_event_id == raw["webhookEventId"]
    assert event.timestamp == 1462629479859
    assert event.mode == "active"
    assert event.raw == raw
    source = raw.get("source")
    assert event.source_type == (source["type"] if source else None)


def test_event_sources_resolve_to_the_conversation_id() -> None:
    events = parse_webhook(
        _envelope(EVENTS["follow"], EVENTS["join"], EVENTS["leave"], EVENTS["botSuspended"])
    ).events
    assert [e.source_id for e in events] == [USER, GROUP, ROOM, None]
    assert events[1].group_id == GROUP and events[1].user_id == USER
    assert events[2].room_id == ROOM


def test_an_unknown_event_type_is_kept_as_the_raw_dict() -> None:
    raw = _base("futureThing", U, payload={"anything": [1, 2]})
    (event,) = parse_webhook(_envelope(raw)).events
    assert type(event) is dict and event == raw
    assert parse_event(raw) is raw
    assert event_source_id(event) == USER


def test_known_and_unknown_events_keep_their_order() -> None:
    raw = _base("futureThing", U)
    events = parse_webhook(_envelope(EVENTS["follow"], raw, EVENTS["unfollow"])).events
    assert [type(e) for e in events] == [WebhookEvent, dict, WebhookEvent]
    assert [e["type"] if isinstance(e, dict) else e.type for e in events] == [
        "follow",
        "futureThing",
        "unfollow",
    ]


def test_the_known_event_types_are_webhook_yml_s() -> None:
    spec = yaml.safe_load((SPECS / "webhook.yml").read_text())
    assert set(spec["components"]["schemas"]["Event"]["discriminator"]["mapping"]) == EVENT_TYPES


def _typed(raw: dict) -> WebhookEvent:
    event = parse_event(raw)
    assert isinstance(event, WebhookEvent)
    return event


def test_a_message_event_carries_its_reply_token_and_message() -> None:
    event = _typed(EVENTS["message"])
    assert event.reply_token == "r"
    assert event.message == {"type": "text", "id": "1", "text": "hi"}
    assert (event.postback_data, event.is_unblocked) == (None, None)


def test_a_postback_event_carries_its_data_and_params() -> None:
    raw = _base(
        "postback", U, replyToken="r", postback={"data": "a=1", "params": {"date": "2024-01-01"}}
    )
    event = _typed(raw)
    assert (event.postback_data, event.postback_params) == ("a=1", {"date": "2024-01-01"})
    assert _typed(EVENTS["postback"]).postback_params is None


@pytest.mark.parametrize("unblocked", [True, False])
def test_a_follow_event_says_whether_it_is_an_unblock(unblocked: bool) -> None:
    raw = _base("follow", U, replyToken="r", follow={"isUnblocked": unblocked})
    assert _typed(raw).is_unblocked is unblocked
    assert _typed(EVENTS["unfollow"]).is_unblocked is None


def test_member_events_carry_the_members_user_ids() -> None:
    other = {"type": "user", "userId": "U" + "d" * 32}
    joined = _typed(_base("memberJoined", G, replyToken="r", joined={"members": [U, other]}))
    assert joined.joined_user_ids == [USER, other["userId"]] and joined.left_user_ids == []
    left = _typed(EVENTS["memberLeft"])
    assert left.left_user_ids == [USER] and left.reply_token is None


def test_redelivery_is_flagged() -> None:
    raw = _base("unfollow", U, deliveryContext={"isRedelivery": True})
    assert parse_webhook(_envelope(raw)).events[0].is_redelivery is True
    assert parse_webhook(_envelope(EVENTS["unfollow"])).events[0].is_redelivery is False


def test_an_empty_event_list_is_a_valid_envelope() -> None:
    envelope = parse_webhook(LINE_BODY)
    assert envelope.destination == "U8e742f61d673b39c7fff3cecb7536ef0"
    assert envelope.events == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"events": []}',
        b'{"destination": "U1", "events": {}}',
        b"\xff\xfe",
    ],
)
def test_a_malformed_body_raises_a_parse_error(body: bytes) -> None:
    with pytest.raises(WebhookParseError):
        parse_webhook(body)


def test_an_item_that_is_not_an_event_spoils_only_itself() -> None:
    events = parse_webhook(_envelope({"no": "type"}, EVENTS["follow"])).events
    assert events[0] == InvalidEvent(
        raw={"no": "type"}, error="each event must be an object with a string 'type'"
    )
    assert events[1].type == "follow"


def test_parse_errors_are_value_errors() -> None:
    assert issubclass(WebhookParseError, ValueError)


def test_the_samples_cover_every_event_type_and_follow_webhook_yml() -> None:
    spec = yaml.safe_load((SPECS / "webhook.yml").read_text())
    mapping = spec["components"]["schemas"]["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENTS)
    api = openapi("webhook.yml")
    for raw in EVENTS.values():
        request = httpx.Request("POST", "https://example.com/callback", content=_envelope(raw))
        request.headers["content-type"] = "application/json"
        api.validate_request(OpenAPIRequest(request, host_url="https://example.com"))
