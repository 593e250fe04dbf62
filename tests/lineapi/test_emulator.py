"""The emulator over plain HTTP: what LineClient would never send, and the inspection API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from lineapi import parse_webhook, verify_signature
from tests.emulator_fixtures import EmulatorHandle
from tests.lineapi.contract import Recorder, RecordingTransport

USER = "U" + "ab" * 16
HELLO = [{"type": "text", "text": "Hello <b>there</b>"}]
PUSH = "/v2/bot/message/push"
DELIVERY_KEYS = {"to", "messages", "retry_key", "request_id", "received_at", "via", "reply_token"}


def push_body(to: str = USER, messages: list | None = None) -> dict:
    return {"to": to, "messages": messages or HELLO}


def retry() -> dict[str, str]:
    return {"X-Line-Retry-Key": str(uuid.uuid4())}


async def test_every_line_answer_carries_a_request_id(raw: httpx.AsyncClient) -> None:
    for response in (
        await raw.post(PUSH, json=push_body(), headers=retry()),
        await raw.get("/v2/bot/info"),
        await raw.get("/v2/bot/profile/" + USER),
    ):
        assert response.headers["x-line-request-id"]


async def test_any_other_token_is_refused_everywhere(raw: httpx.AsyncClient) -> None:
    bad = {"Authorization": "Bearer not-the-token"}
    for method, path in [("POST", PUSH), ("GET", "/v2/bot/info"), ("GET", "/v2/bot/message/quota")]:
        response = await raw.request(method, path, json=push_body(), headers=bad)
        assert response.status_code == 401
        assert "Authentication failed" in response.json()["message"]


async def test_a_missing_token_is_refused(emulator: EmulatorHandle) -> None:
    # Not recorded for the contract check: a request without credentials breaks it by design.
    async with httpx.AsyncClient(base_url=emulator.base_url) as http:
        missing = await http.get("/v2/bot/info")
    assert missing.status_code == 401
    assert missing.json()["message"].startswith("Authentication failed")


async def test_a_malformed_retry_key_is_refused(raw: httpx.AsyncClient) -> None:
    response = await raw.post(PUSH, json=push_body(), headers={"X-Line-Retry-Key": "nope"})
    assert response.status_code == 400
    assert "X-Line-Retry-Key" in response.json()["message"]


JSON = {"Content-Type": "application/json"}


async def test_a_body_that_is_not_json_is_refused_with_lines_words(
    raw: httpx.AsyncClient,
) -> None:
    for path in (PUSH, "/v2/bot/message/validate/push"):
        headers = {**JSON, **retry()} if path == PUSH else JSON
        response = await raw.post(path, content=b'{"to":\n oops}', headers=headers)
        assert response.status_code == 400
        assert response.json() == {
            "message": "The request body could not be parsed as JSON (line: 2, column: 2)"
        }


async def test_a_body_that_is_not_declared_json_is_refused(raw: httpx.AsyncClient) -> None:
    body = json.dumps(push_body()).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        response = await raw.post(PUSH, content=body, headers={"Content-Type": ctype})
        assert response.status_code == 415
        assert response.json() == {"message": f"The content type, '{ctype}', is not supported"}
    ok = {"Content-Type": "application/json; charset=UTF-8"}
    assert (await raw.post(PUSH, content=body, headers=ok)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/bot/message/validate/push"),
        ("POST", "/v2/bot/message/validate/broadcast"),
        ("GET", "/v2/bot/info"),
        ("GET", "/v2/bot/message/quota"),
        ("GET", "/v2/bot/followers/ids"),
        ("GET", "/v2/bot/profile/" + "U" + "0" * 32),
    ],
)
async def test_a_retry_key_on_an_api_that_does_not_take_one_is_refused(
    raw: httpx.AsyncClient, method: str, path: str
) -> None:
    """LINE takes X-Line-Retry-Key on push, multicast, narrowcast and broadcast only; any
    other API that receives one refuses the request with a 400."""
    body = {"messages": HELLO} if method == "POST" else None
    response = await raw.request(method, path, json=body, headers=retry())
    assert response.status_code == 400
    assert "X-Line-Retry-Key" in response.json()["message"]


async def test_broadcast_is_limited_to_60_requests_an_hour(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    body = {"messages": HELLO}
    for _ in range(60):
        response = await raw.post("/v2/bot/message/broadcast", json=body, headers=retry())
        assert response.status_code == 200
    refused = await raw.post("/v2/bot/message/broadcast", json=body, headers=retry())
    assert refused.status_code == 429
    assert refused.json() == {"message": "The API rate limit has been exceeded. Try again later."}


def test_a_retry_key_is_kept_24_hours(start_emulator, tmp_path) -> None:
    """An accepted key blocks repeats for 24 hours after the first request, then LINE forgets it."""
    key = str(uuid.uuid4())
    old = str(uuid.uuid4())
    now = time.time()
    ledger = tmp_path / "ledger.jsonl"
    lines = [
        {"to": [USER], "retry_key": k, "request_id": f"r{i}", "sent": [], "received_at": at,
         "body": {"messages": HELLO}}
        for i, (k, at) in enumerate([(key, now - 23 * 3600), (old, now - 25 * 3600)])
    ]  # fmt: skip
    ledger.write_text("".join(json.dumps(line) + "\n" for line in lines))
    handle = start_emulator(ledger=str(ledger))
    auth = {"Authorization": f"Bearer {handle.token}"}
    with httpx.Client(base_url=handle.base_url, headers=auth) as http:
        assert (
            http.post(PUSH, json=push_body(), headers={"X-Line-Retry-Key": key}).status_code == 409
        )
        assert (
            http.post(PUSH, json=push_body(), headers={"X-Line-Retry-Key": old}).status_code == 200
        )


async def test_a_send_without_retry_key_is_accepted_as_line_does(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    response = await raw.post(PUSH, json=push_body())
    assert response.status_code == 200
    assert emulator.messages()[0]["retry_key"] is None


async def test_errors_report_every_problem_with_its_property(raw: httpx.AsyncClient) -> None:
    body = push_body(to="bad", messages=[{"type": "text", "text": ""}, {"type": "nope"}])
    response = await raw.post(PUSH, json=body, headers=retry())
    data = response.json()
    assert response.status_code == 400
    assert data["message"] == "The request body has 3 error(s)"
    assert {d["property"] for d in data["details"]} == {
        "to",
        "messages[0].text",
        "messages[1].type",
    }


async def test_an_unknown_path_is_not_found(emulator: EmulatorHandle) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as http:
        response = await http.get("/v2/bot/nothing-here")
    assert response.status_code == 404 and response.json() == {"message": "Not found"}


async def test_broadcast_reaches_every_follower(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    response = await raw.post(
        "/v2/bot/message/broadcast", json={"messages": HELLO}, headers=retry()
    )
    assert response.status_code == 200
    assert emulator.stats()["accepted_recipients"] == 50


async def test_insight_hides_figures_under_twenty(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    body = {
        "to": [f"U{i:032x}" for i in range(10)],
        "messages": HELLO,
        "customAggregationUnits": ["tiny"],
    }
    await raw.post("/v2/bot/message/multicast", json=body, headers=retry())
    params = {"customAggregationUnit": "tiny", "from": "20260101", "to": "20260102"}
    data = (await raw.get("/v2/bot/insight/message/event/aggregation", params=params)).json()
    assert data["overview"]["uniqueImpression"] is None
    assert data["messages"][0]["impression"] is None
    bad = await raw.get("/v2/bot/insight/message/event/aggregation", params={**params, "from": "x"})
    assert bad.status_code == 400


async def test_inspection_lists_deliveries_per_recipient(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    await raw.post(PUSH, json=push_body(), headers=retry())
    await raw.post(
        "/v2/bot/message/multicast",
        json={"to": [USER, "U" + "cd" * 16], "messages": HELLO},
        headers=retry(),
    )
    mine = emulator.messages(to=USER)
    assert len(mine) == 2 and all(set(d) == DELIVERY_KEYS for d in mine)
    assert len(emulator.messages()) == 3
    stats = emulator.stats()
    assert (stats["accepted_requests"], stats["accepted_recipients"]) == (2, 3)
    emulator.reset()
    assert emulator.messages() == [] and emulator.stats()["accepted_requests"] == 0


async def test_config_changes_at_run_time_and_rejects_unknown_settings(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    assert emulator.configure(monthly_quota=5)["monthly_quota"] == 5
    with pytest.raises(httpx.HTTPStatusError):
        emulator.configure(port=1)
    emulator.configure(token="rotated")
    assert (await raw.get("/v2/bot/info")).status_code == 401
    info = await raw.get("/v2/bot/info", headers={"Authorization": "Bearer rotated"})
    assert info.status_code == 200


def test_config_changes_are_refused_without_allow_config(start_emulator) -> None:
    emulator = start_emulator(allow_config=False)
    response = httpx.post(f"{emulator.base_url}/_emulator/config", json={"monthly_quota": 1})
    assert response.status_code == 403
    assert "--allow-config" in response.json()["message"]
    assert httpx.get(f"{emulator.base_url}/_emulator/config").json()["monthly_quota"] is None


async def test_the_chat_page_shows_received_messages_escaped(
    raw: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    messages = [
        *HELLO,
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "flex", "altText": "Flex summary", "contents": {"type": "bubble"}},
    ]
    await raw.post(PUSH, json=push_body(messages=messages), headers=retry())
    page = httpx.get(f"{emulator.base_url}/_emulator/", params={"to": USER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page.text
    assert "446/1988" in page.text and "Flex summary" in page.text
    assert "<link" not in page.text and "<script src" not in page.text


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str | None]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("x-line-signature")))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list]]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


async def test_webhooks_are_filled_signed_and_posted(
    raw: httpx.AsyncClient, emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    events = [
        {
            "type": "follow",
            "source": {"type": "user", "userId": USER},
            "replyToken": "r",
            "follow": {"isUnblocked": False},
        },
        {"type": "unfollow", "source": {"type": "user", "userId": USER}, "timestamp": 5},
    ]
    assert emulator.send_webhook(url, events) == 202
    ((body, signature),) = received
    assert verify_signature(emulator.secret, body, signature)
    assert not verify_signature("another-secret", body, signature)
    envelope = parse_webhook(body)
    bot = (await raw.get("/v2/bot/info")).json()
    assert envelope.destination == bot["userId"]
    follow, unfollow = envelope.events
    assert follow.type == "follow" and follow.user_id == USER
    assert len(follow.webhook_event_id or "") == 26 and follow.timestamp > 5
    assert unfollow.timestamp == 5
    assert json.loads(body)["events"][0]["follow"] == {"isUnblocked": False}


def test_a_webhook_keeps_the_destination_it_is_given(
    emulator: EmulatorHandle, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    other_bot = "U" + "0f" * 16
    body = {"url": url, "destination": other_bot, "events": []}
    response = httpx.post(f"{emulator.base_url}/_emulator/webhook", json=body)
    assert response.json() == {"status": 202}
    assert emulator.send_webhook(url, []) == 202
    (given, _), (filled, _) = received
    assert json.loads(given) == {"destination": other_bot, "events": []}
    bot = httpx.get(
        f"{emulator.base_url}/v2/bot/info", headers={"Authorization": f"Bearer {emulator.token}"}
    ).json()
    assert json.loads(filled)["destination"] == bot["userId"] != other_bot


async def test_cli_flags_shape_a_dedicated_instance(
    start_emulator: Callable[..., EmulatorHandle], contract: Recorder
) -> None:
    handle = start_emulator(unverified=True, monthly_quota=7, followers=3, token="other")
    transport = RecordingTransport(httpx.AsyncHTTPTransport(), contract)
    auth = {"Authorization": "Bearer other"}
    async with httpx.AsyncClient(base_url=handle.base_url, transport=transport, headers=auth) as h:
        assert (await h.get("/v2/bot/followers/ids")).status_code == 403
        assert (await h.get("/v2/bot/message/quota")).json() == {"type": "limited", "value": 7}


def test_bot_and_follower_pictures_are_served_by_the_emulator_itself(emulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}"}
    info = httpx.get(f"{emulator.base_url}/v2/bot/info", headers=headers).json()
    assert info["pictureUrl"] == f"{emulator.base_url}/_emulator/avatar.svg"
    picture = httpx.get(info["pictureUrl"])
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/svg+xml"
    assert picture.content.startswith(b"<svg")


def test_with_a_ledger_what_was_accepted_survives_a_restart(start_emulator, tmp_path) -> None:
    """`make run` restarts keep the chat, the quota used and the retry keys, as LINE would."""
    ledger = tmp_path / "ledger.jsonl"
    first = start_emulator(ledger=str(ledger))
    auth = {"Authorization": f"Bearer {first.token}"}
    key = retry()
    with httpx.Client(base_url=first.base_url, headers=auth) as http:
        sent = http.post(PUSH, json=push_body(), headers=key)
        assert sent.status_code == 200
        multicast = {"to": [USER, "U" + "cd" * 16], "messages": HELLO}
        assert http.post("/v2/bot/message/multicast", json=multicast, headers=retry()).is_success
    first.stop()

    again = start_emulator(ledger=str(ledger))
    assert [m["to"] for m in again.messages()] == [USER, USER, "U" + "cd" * 16]
    assert again.messages()[0]["request_id"] == sent.headers["x-line-request-id"]
    with httpx.Client(base_url=again.base_url, headers=auth) as http:
        assert http.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 3}
        duplicate = http.post(PUSH, json=push_body(), headers=key)
        assert duplicate.status_code == 409
        assert duplicate.headers["x-line-accepted-request-id"] == sent.headers["x-line-request-id"]
        assert duplicate.json()["sentMessages"] == sent.json()["sentMessages"]
    assert "Hello" in httpx.get(f"{again.base_url}/_emulator/?to={USER}").text

    again.reset()
    assert again.messages() == [] and ledger.read_text() == ""
