"""LINE's reply API: LineClient.reply, LINE's own SDK and the emulator's single-use reply tokens
that its webhook events carry (docs/design.md §6)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from linebot.v3.messaging import ReplyMessageRequest, TextMessage
from linebot.v3.messaging.exceptions import ApiException

from lineapi import (
    LineAuthError,
    LineClient,
    LineInvalidReplyTokenError,
    LineInvalidRequestError,
    LineRateLimitError,
)
from lineapi.emulator.app import RETRY_KEY_NOT_SUPPORTED
from tests.emulator_fixtures import EmulatorHandle
from tests.lineapi.conftest import line_sdk, make_client
from tests.lineapi.contract import Recorder

USER = "U" + "a1" * 16
GROUP = "C" + "b2" * 16
HELLO = [{"type": "text", "text": "Hello"}]
REPLY = "/v2/bot/message/reply"
INVALID_TOKEN = {"message": "Invalid reply token"}


def user_event(kind: str, user: str = USER, **extra: object) -> dict:
    return {"type": kind, "source": {"type": "user", "userId": user}, **extra}


def text_event(text: str, user: str = USER) -> dict:
    return user_event("message", user, message={"type": "text", "id": "1", "text": text})


def sent_events(received: list) -> list[dict]:
    return [event for body, _ in received for event in json.loads(body)["events"]]


def token_for(emulator: EmulatorHandle, receiver: tuple[str, list], event: dict) -> str:
    """Sends the event through the emulator's webhook and returns the reply token it carried."""
    url, received = receiver
    emulator.send_webhook(url, [event])
    return sent_events(received)[-1]["replyToken"]


async def test_a_reply_with_line_client_reaches_the_chat_of_the_event(
    client: LineClient, emulator: EmulatorHandle, receiver: tuple[str, list], contract: Recorder
) -> None:
    token = token_for(emulator, receiver, user_event("follow"))
    result = await client.reply(reply_token=token, messages=HELLO)
    assert result.status == 200 and result.request_id
    assert len(result.sent_messages) == 1 and result.sent_messages[0]["id"]
    (delivery,) = emulator.messages(to=USER)
    assert delivery["via"] == "reply" and delivery["reply_token"] == token
    assert delivery["retry_key"] is None and delivery["messages"] == HELLO
    assert delivery["request_id"] == result.request_id
    request, _ = contract.exchanges[-1]
    assert json.loads(request.content) == {"replyToken": token, "messages": HELLO}
    assert "x-line-retry-key" not in request.headers
    assert contract.validate_all() == 1


async def test_notification_disabled_is_sent_only_when_asked(
    client: LineClient, emulator: EmulatorHandle, receiver: tuple[str, list], contract: Recorder
) -> None:
    token = token_for(emulator, receiver, text_event("hi"))
    await client.reply(reply_token=token, messages=HELLO, notification_disabled=True)
    request, _ = contract.exchanges[-1]
    assert json.loads(request.content) == {
        "replyToken": token,
        "messages": HELLO,
        "notificationDisabled": True,
    }


async def test_reply_messages_can_be_validated_first(
    client: LineClient, contract: Recorder
) -> None:
    await client.validate(kind="reply", messages=HELLO)
    with pytest.raises(LineInvalidRequestError) as refused:
        await client.validate(kind="reply", messages=HELLO * 6)
    assert refused.value.details == [
        {"message": "Size must be between 1 and 5", "property": "messages"}
    ]
    assert [r.url.path for r, _ in contract.exchanges] == ["/v2/bot/message/validate/reply"] * 2


def test_a_reply_with_lines_own_sdk(emulator: EmulatorHandle, receiver: tuple[str, list]) -> None:
    token = token_for(emulator, receiver, user_event("postback", postback={"data": "a=1"}))
    api = line_sdk(emulator)
    request = ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="Thanks")])
    response = api.reply_message(request)
    assert len(response.sent_messages) == 1
    assert [m["messages"] for m in emulator.messages(to=USER)] == [
        [{"type": "text", "text": "Thanks"}]
    ]
    with pytest.raises(ApiException) as refused:
        api.reply_message(request)
    assert refused.value.status == 400 and json.loads(refused.value.body) == INVALID_TOKEN


async def test_a_reply_token_is_accepted_once(
    client: LineClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    token = token_for(emulator, receiver, text_event("coupon"))
    await client.reply(reply_token=token, messages=HELLO)
    with pytest.raises(LineInvalidReplyTokenError) as used:
        await client.reply(reply_token=token, messages=HELLO)
    assert isinstance(used.value, LineInvalidRequestError)
    assert (used.value.status, used.value.message) == (400, "Invalid reply token")
    assert len(emulator.messages(to=USER)) == 1
    assert emulator.stats()["invalid_reply_tokens"] == 1


async def test_an_expired_or_unknown_token_is_refused(
    raw: httpx.AsyncClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    emulator.configure(reply_token_ttl_s=0.3)
    token = token_for(emulator, receiver, user_event("follow"))
    await asyncio.sleep(0.4)
    expired = await raw.post(REPLY, json={"replyToken": token, "messages": HELLO})
    assert expired.status_code == 400 and expired.json() == INVALID_TOKEN
    unknown = await raw.post(REPLY, json={"replyToken": uuid.uuid4().hex, "messages": HELLO})
    assert unknown.status_code == 400 and unknown.json() == INVALID_TOKEN
    assert emulator.messages() == []


async def test_messages_follow_the_push_rules_and_a_refused_body_keeps_the_token(
    raw: httpx.AsyncClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    token = token_for(emulator, receiver, text_event("hi"))
    six = HELLO * 6
    refused = await raw.post(REPLY, json={"replyToken": token, "messages": six})
    pushed = await raw.post("/v2/bot/message/push", json={"to": USER, "messages": six})
    assert refused.status_code == pushed.status_code == 400
    assert (
        refused.json()
        == pushed.json()
        == {
            "message": "The request body has 1 error(s)",
            "details": [{"message": "Size must be between 1 and 5", "property": "messages"}],
        }
    )
    bad_text = await raw.post(REPLY, json={"replyToken": token, "messages": [{"type": "text"}]})
    assert bad_text.json()["details"] == [
        {"message": "May not be empty", "property": "messages[0].text"}
    ]
    no_token = await raw.post(REPLY, json={"messages": HELLO})
    assert no_token.status_code == 400
    assert no_token.json()["details"] == [{"message": "May not be empty", "property": "replyToken"}]
    assert (await raw.post(REPLY, json={"replyToken": token, "messages": HELLO})).is_success


async def test_a_retry_key_on_reply_is_refused_and_keeps_the_token(
    raw: httpx.AsyncClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    token = token_for(emulator, receiver, text_event("hi"))
    body = {"replyToken": token, "messages": HELLO}
    refused = await raw.post(REPLY, json=body, headers={"X-Line-Retry-Key": str(uuid.uuid4())})
    assert refused.status_code == 400
    assert refused.json() == {"message": RETRY_KEY_NOT_SUPPORTED}
    assert (await raw.post(REPLY, json=body)).is_success


async def test_a_bad_channel_token_is_refused(
    emulator: EmulatorHandle, receiver: tuple[str, list], contract: Recorder
) -> None:
    token = token_for(emulator, receiver, text_event("hi"))
    async with make_client(emulator, contract, token="not-the-token") as line:
        with pytest.raises(LineAuthError):
            await line.reply(reply_token=token, messages=HELLO)
    assert emulator.messages() == []


async def test_a_reply_draws_on_the_push_rate_budget(
    client: LineClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    token = token_for(emulator, receiver, text_event("hi"))
    emulator.configure(push_rate=1)
    await client.push(to=USER, messages=HELLO, retry_key=str(uuid.uuid4()))
    with pytest.raises(LineRateLimitError):
        await client.reply(reply_token=token, messages=HELLO)
    await asyncio.sleep(1.1)
    await client.reply(reply_token=token, messages=HELLO)  # a 429 does not use the token up


async def test_a_reply_costs_no_quota_and_is_not_held_back_by_it(
    client: LineClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    before = await client.quota_consumption()
    for text in ("one", "two"):
        token = token_for(emulator, receiver, text_event(text))
        await client.reply(reply_token=token, messages=HELLO * 2)
    assert await client.quota_consumption() == before
    await client.push(to=USER, messages=HELLO, retry_key=str(uuid.uuid4()))
    assert await client.quota_consumption() == before + 1
    emulator.configure(monthly_quota=1)
    token = token_for(emulator, receiver, text_event("three"))
    await client.reply(reply_token=token, messages=HELLO)
    assert len(emulator.messages(to=USER)) == 4


async def test_the_ledger_says_which_api_carried_each_message(
    raw: httpx.AsyncClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    other = "U" + "c3" * 16
    token = token_for(emulator, receiver, text_event("hi"))
    await raw.post("/v2/bot/message/push", json={"to": USER, "messages": HELLO})
    await raw.post("/v2/bot/message/multicast", json={"to": [other], "messages": HELLO})
    await raw.post(REPLY, json={"replyToken": token, "messages": HELLO})
    await raw.post("/v2/bot/message/broadcast", json={"messages": HELLO})
    ledger = emulator.messages()
    assert [(m["to"], m["via"]) for m in ledger[:3]] == [
        (USER, "push"),
        (other, "multicast"),
        (USER, "reply"),
    ]
    assert len(ledger) == 3 + 50 and {m["via"] for m in ledger[3:]} == {"broadcast"}
    assert [m["reply_token"] for m in ledger[:3]] == [None, None, token]


def test_webhooks_carry_a_fresh_reply_token_where_line_gives_one(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    group = {"type": "group", "groupId": GROUP}
    events = [
        user_event("follow"),
        text_event("hi"),
        user_event("postback", postback={"data": "a=1"}),
        {"type": "join", "source": group},
        user_event("unfollow"),
        {"type": "leave", "source": group},
    ]
    emulator.send_webhook(url, events)
    emulator.send_webhook(url, [text_event("again")])
    sent = sent_events(received)
    tokens = [e.get("replyToken") for e in sent]
    assert all(tokens[:4]) and tokens[4] is None and tokens[5] is None and tokens[6]
    assert len(set(tokens[:4] + tokens[6:])) == 5
    headers = {"Authorization": f"Bearer {emulator.token}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers) as http:
        replied = http.post(REPLY, json={"replyToken": tokens[3], "messages": HELLO})
    assert replied.status_code == 200
    assert [(m["to"], m["via"]) for m in emulator.messages()] == [(GROUP, "reply")]


def test_a_given_reply_token_is_kept_and_honoured_once(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    token = token_for(emulator, receiver, user_event("follow", replyToken="chosen-by-the-test"))
    assert token == "chosen-by-the-test"
    api = line_sdk(emulator)
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="Hi")]))
    assert emulator.messages(to=USER)[0]["reply_token"] == token


def test_the_page_form_sends_join_events_with_reply_tokens(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    page = httpx.get(f"{emulator.base_url}/_emulator/").text
    assert "<option>join</option>" in page and "name='groupId'" in page
    sent = httpx.post(
        f"{emulator.base_url}/_emulator/webhook/form",
        data={"url": url, "type": "join", "groupId": GROUP, "userId": ""},
    )
    assert sent.headers["location"].startswith("/_emulator/?webhook=200&type=join")
    (event,) = sent_events(received)
    assert event["source"] == {"type": "group", "groupId": GROUP} and event["replyToken"]
    bad = httpx.post(
        f"{emulator.base_url}/_emulator/webhook/form", data={"type": "join", "groupId": "x"}
    )
    assert "groupId%20must%20be" in bad.headers["location"]


def test_the_chat_view_shows_each_reply_under_the_message_that_carried_the_token(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    first = token_for(emulator, receiver, text_event("first <question>"))
    token_for(emulator, receiver, text_event("second question"))
    api = line_sdk(emulator)
    headers = {"Authorization": f"Bearer {emulator.token}"}
    httpx.post(
        f"{emulator.base_url}/v2/bot/message/push",
        json={"to": USER, "messages": [{"type": "text", "text": "a later push"}]},
        headers=headers,
    )
    api.reply_message(
        ReplyMessageRequest(reply_token=first, messages=[TextMessage(text="the answer")])
    )
    page = httpx.get(f"{emulator.base_url}/_emulator/", params={"to": USER}).text
    order = [
        page.index(s)
        for s in ("first &lt;question&gt;", "the answer", "second question", "a later push")
    ]
    assert order == sorted(order)
    assert "reply · " in page and page.count("reply · ") == 1


def test_replies_survive_a_restart_and_still_cost_no_quota(start_emulator, tmp_path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    # A line written before the ledger said which API carried it.
    old = {"to": [USER], "retry_key": None, "request_id": "r0", "sent": [], "received_at": 1.0,
           "body": {"messages": HELLO}}  # fmt: skip
    ledger.write_text(json.dumps(old) + "\n")
    first = start_emulator(ledger=str(ledger))
    state_token = "t-" + uuid.uuid4().hex
    with pytest.raises(httpx.HTTPStatusError):  # nothing listens, yet the token was issued
        first.send_webhook("http://127.0.0.1:9/x", [text_event("hi") | {"replyToken": state_token}])
    headers = {"Authorization": f"Bearer {first.token}"}
    with httpx.Client(base_url=first.base_url, headers=headers) as http:
        assert http.post(REPLY, json={"replyToken": state_token, "messages": HELLO}).is_success
    first.stop()

    again = start_emulator(ledger=str(ledger))
    assert [m["via"] for m in again.messages()] == ["push", "reply"]
    assert again.messages()[1]["reply_token"] == state_token
    with httpx.Client(base_url=again.base_url, headers=headers) as http:
        assert http.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 1}
