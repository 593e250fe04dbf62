"""LineClient against the emulator running as a real server on loopback."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from lineapi import (
    LineApiError,
    LineAuthError,
    LineClient,
    LineConnectionError,
    LineDuplicateRetryKeyError,
    LineForbiddenError,
    LineInvalidRequestError,
    LineMonthlyLimitError,
    LineNotFoundError,
    LineRateLimitError,
    LineServerError,
    LineTimeoutError,
    LineTooLargeError,
    Quota,
)
from lineapi.errors import MONTHLY_LIMIT_MESSAGE, RATE_LIMIT_MESSAGE
from tests.emulator_fixtures import EmulatorHandle
from tests.lineapi.conftest import make_client
from tests.lineapi.contract import Recorder

HELLO = [{"type": "text", "text": "Hello 👋"}]


def user(n: int) -> str:
    return f"U{n:032x}"


def key() -> str:
    return str(uuid.uuid4())


async def test_push_returns_request_id_and_sent_messages(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    retry_key = key()
    result = await client.push(to=user(1), messages=HELLO, retry_key=retry_key)
    assert result.status == 200
    assert len(result.sent_messages) == 1 and result.sent_messages[0]["id"]
    (delivery,) = emulator.messages(to=user(1))
    assert delivery["request_id"] == result.request_id
    assert delivery["retry_key"] == retry_key
    assert delivery["messages"] == HELLO


async def test_push_sends_notification_and_aggregation_options(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    to = [user(i) for i in range(40)]
    await client.multicast(
        to=to, messages=HELLO, retry_key=key(), custom_aggregation_units=["spring_sale"]
    )
    stats = await client.insight_aggregation(
        unit="spring_sale", from_date="20260101", to_date="20260131"
    )
    assert stats["overview"]["uniqueImpression"] == 40 * 62 // 100
    assert stats["messages"][0]["seq"] == 1
    empty = await client.insight_aggregation(unit="other", from_date="20260101", to_date="20260131")
    assert empty["overview"]["uniqueImpression"] is None


async def test_multicast_records_one_delivery_per_recipient(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    to = [user(i) for i in range(3)]
    result = await client.multicast(to=to, messages=HELLO, retry_key=key())
    assert result.status == 200 and result.request_id
    assert result.sent_messages == []
    assert sorted(d["to"] for d in emulator.messages()) == to
    assert emulator.stats()["accepted_recipients"] == 3


async def test_sends_require_a_retry_key_from_the_caller(client: LineClient) -> None:
    with pytest.raises(ValueError, match="retry_key"):
        await client.push(to=user(1), messages=HELLO, retry_key="")
    with pytest.raises(TypeError):
        await client.push(to=user(1), messages=HELLO)  # type: ignore[call-arg]


async def test_a_repeated_retry_key_is_a_duplicate_carrying_the_accepted_request(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    retry_key = key()
    first = await client.push(to=user(1), messages=HELLO, retry_key=retry_key)
    with pytest.raises(LineDuplicateRetryKeyError) as caught:
        await client.push(to=user(1), messages=HELLO, retry_key=retry_key)
    error = caught.value
    assert error.status == 409
    assert error.accepted_request_id == first.request_id
    assert error.sent_messages == first.sent_messages
    assert error.request_id and error.request_id != first.request_id
    assert len(emulator.messages(to=user(1))) == 1
    assert emulator.stats()["duplicate_retries"] == 1


async def test_a_repeated_multicast_key_is_a_duplicate(client: LineClient) -> None:
    retry_key = key()
    first = await client.multicast(to=[user(1), user(2)], messages=HELLO, retry_key=retry_key)
    with pytest.raises(LineDuplicateRetryKeyError) as caught:
        await client.multicast(to=[user(1), user(2)], messages=HELLO, retry_key=retry_key)
    assert caught.value.accepted_request_id == first.request_id


async def test_invalid_messages_raise_with_line_details(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    too_long = [{"type": "text", "text": "x"}, {"type": "text", "text": "y" * 5001}]
    with pytest.raises(LineInvalidRequestError) as caught:
        await client.push(to=user(1), messages=too_long, retry_key=key())
    assert caught.value.status == 400
    assert caught.value.details == [
        {"message": "Length must be between 0 and 5000", "property": "messages[1].text"}
    ]
    assert not caught.value.retryable
    assert emulator.messages() == []


@pytest.mark.parametrize(
    "to, messages, prop",
    [
        ([user(i) for i in range(501)], HELLO, "to"),
        ([user(1), "C" + "0" * 32], HELLO, "to[1]"),
        ([user(1)], HELLO * 6, "messages"),
    ],
)
async def test_invalid_multicasts_are_refused(
    client: LineClient, to: list[str], messages: list[dict], prop: str
) -> None:
    with pytest.raises(LineInvalidRequestError) as caught:
        await client.multicast(to=to, messages=messages, retry_key=key())
    assert [d["property"] for d in caught.value.details] == [prop]


async def test_a_malformed_push_target_is_refused(client: LineClient) -> None:
    with pytest.raises(LineInvalidRequestError) as caught:
        await client.push(to="someone", messages=HELLO, retry_key=key())
    assert caught.value.details[0]["property"] == "to"


async def test_validate_accepts_good_and_details_bad_messages(client: LineClient) -> None:
    for kind in ("push", "multicast"):
        await client.validate(kind=kind, messages=HELLO)
        with pytest.raises(LineInvalidRequestError) as caught:
            await client.validate(kind=kind, messages=[{"type": "image"}])
        assert {d["property"] for d in caught.value.details} == {
            "messages[0].originalContentUrl",
            "messages[0].previewImageUrl",
        }
    with pytest.raises(ValueError):
        await client.validate(kind="broadcast", messages=HELLO)


async def test_bot_info(client: LineClient) -> None:
    info = await client.bot_info()
    assert info.user_id.startswith("U") and len(info.user_id) == 33
    assert info.display_name and info.basic_id.startswith("@")
    assert info.chat_mode in ("chat", "bot")


async def test_quota_and_consumption(client: LineClient, emulator: EmulatorHandle) -> None:
    assert (await client.quota()).type == "none"
    emulator.configure(monthly_quota=1000)
    quota = await client.quota()
    assert (quota.type, quota.value) == ("limited", 1000)
    await client.multicast(to=[user(1), user(2)], messages=HELLO, retry_key=key())
    assert await client.quota_consumption() == 2


def test_one_client_serves_one_event_loop_after_another(
    emulator: EmulatorHandle, contract: Recorder
) -> None:
    client = make_client(emulator, contract)
    first = asyncio.run(client.quota())
    second = asyncio.run(client.quota())
    assert first == second == Quota(type="none", value=None)

    async def close() -> None:
        await client.aclose()

    asyncio.run(close())
    assert [response.status_code for _, response in contract.exchanges] == [200, 200]


async def test_follower_ids_are_paged(client: LineClient) -> None:
    pages = [page async for page in client.follower_ids(limit=20)]
    assert [len(p) for p in pages] == [20, 20, 10]
    ids = [uid for page in pages for uid in page]
    assert len(set(ids)) == 50
    profile = await client.profile(ids[7])
    assert profile.user_id == ids[7]
    assert profile.display_name == "Follower 8"
    with pytest.raises(ValueError):
        [p async for p in client.follower_ids(limit=1001)]


async def test_follower_ids_are_forbidden_for_unverified_accounts(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    emulator.configure(unverified=True)
    with pytest.raises(LineForbiddenError) as caught:
        [p async for p in client.follower_ids()]
    assert caught.value.status == 403 and not caught.value.retryable


async def test_an_unknown_profile_is_not_found(client: LineClient) -> None:
    with pytest.raises(LineNotFoundError) as caught:
        await client.profile(user(999))
    assert caught.value.status == 404


async def test_a_wrong_token_is_an_auth_error_that_never_shows_the_token(
    emulator: EmulatorHandle, contract: Recorder
) -> None:
    secret_token = "very-secret-token-value"
    async with make_client(emulator, contract, token=secret_token) as client:
        with pytest.raises(LineAuthError) as caught:
            await client.push(to=user(1), messages=HELLO, retry_key=key())
        assert secret_token not in repr(client) + str(client)
    error = caught.value
    assert error.status == 401 and not error.retryable and error.request_id
    assert secret_token not in str(error) + repr(error) + repr(error.__cause__)
    assert emulator.messages() == []


async def test_the_rate_limit_is_retryable(client: LineClient, emulator: EmulatorHandle) -> None:
    emulator.configure(push_rate=0.001)  # a bucket of one request, refilled after ~17 minutes
    await client.push(to=user(1), messages=HELLO, retry_key=key())
    with pytest.raises(LineRateLimitError) as caught:
        await client.push(to=user(1), messages=HELLO, retry_key=key())
    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.message == RATE_LIMIT_MESSAGE
    assert emulator.stats()["rate_limited"] == 1


async def test_the_monthly_limit_is_final_until_the_quota_is_raised(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    emulator.configure(monthly_quota=2)
    await client.multicast(to=[user(1), user(2)], messages=HELLO, retry_key=key())
    blocked_key = key()
    with pytest.raises(LineMonthlyLimitError) as caught:
        await client.push(to=user(3), messages=HELLO, retry_key=blocked_key)
    assert caught.value.status == 429 and not caught.value.retryable
    assert caught.value.message == MONTHLY_LIMIT_MESSAGE
    emulator.configure(monthly_quota=10)
    await client.push(to=user(3), messages=HELLO, retry_key=blocked_key)
    assert emulator.stats()["accepted_recipients"] == 3


async def test_a_body_over_2_mb_is_too_large(client: LineClient) -> None:
    with pytest.raises(LineTooLargeError) as caught:
        await client.push(
            to=user(1), messages=[{"type": "text", "text": "x" * 2_200_000}], retry_key=key()
        )
    assert caught.value.status == 413 and not caught.value.retryable


async def test_faults_are_server_errors_or_dropped_connections_and_never_accepted(
    emulator: EmulatorHandle, contract: Recorder
) -> None:
    emulator.configure(fault_rate=1.0, fault_hold_s=0.3)
    async with make_client(emulator, contract, read_timeout=5.0) as client:
        sends = [client.push(to=user(1), messages=HELLO, retry_key=key()) for _ in range(20)]
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
    kinds = {type(o) for o in outcomes}
    assert kinds == {LineServerError, LineConnectionError}
    assert all(o.retryable for o in outcomes if isinstance(o, LineApiError))
    assert next(o for o in outcomes if isinstance(o, LineServerError)).status == 500
    assert emulator.stats()["faults_injected"] == 20
    assert emulator.messages() == []


async def test_a_slow_answer_is_a_retryable_timeout(
    emulator: EmulatorHandle, contract: Recorder
) -> None:
    emulator.configure(latency_ms=2000)
    async with make_client(emulator, contract, read_timeout=0.2) as client:
        with pytest.raises(LineTimeoutError) as caught:
            await client.bot_info()
    assert caught.value.status is None and caught.value.retryable


async def test_a_refused_connection_is_a_retryable_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with LineClient(token="t", base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(LineConnectionError) as caught:
            await client.push(to=user(1), messages=HELLO, retry_key=key())
    assert caught.value.status is None and caught.value.retryable


async def test_the_same_key_survives_a_retry_after_a_lost_answer(
    client: LineClient, emulator: EmulatorHandle
) -> None:
    retry_key = key()
    first = await client.push(to=user(5), messages=HELLO, retry_key=retry_key)
    # The engine retries with the same key after a timeout; LINE answers 409, counted as sent.
    with pytest.raises(LineDuplicateRetryKeyError) as caught:
        await client.push(to=user(5), messages=HELLO, retry_key=retry_key)
    assert caught.value.accepted_request_id == first.request_id
    assert [d["retry_key"] for d in emulator.messages(to=user(5))] == [retry_key]


def _mock_client(status: int, body: bytes, headers: dict | None = None) -> LineClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or {})

    return LineClient(
        token="t", base_url="https://api.line.me", transport=httpx.MockTransport(handler)
    )


@pytest.mark.parametrize(
    "status, body, error",
    [
        (502, b"<html>bad gateway</html>", LineServerError),
        (503, b"", LineServerError),
        (429, b'{"message":"You have reached your monthly limit."}', LineMonthlyLimitError),
        (
            429,
            b'{"message":"The API rate limit has been exceeded. Try again later."}',
            LineRateLimitError,
        ),
        (418, b'{"message":"teapot"}', LineApiError),
    ],
)
async def test_statuses_map_to_the_error_family(
    status: int, body: bytes, error: type[LineApiError]
) -> None:
    async with _mock_client(status, body, {"x-line-request-id": "rid-1"}) as client:
        with pytest.raises(error) as caught:
            await client.quota()
    assert type(caught.value) is error
    assert caught.value.status == status and caught.value.request_id == "rid-1"
    assert caught.value.message


async def test_a_flex_error_from_line_names_the_property_as_the_local_rules_do() -> None:
    """LINE reports a bad flex container with a JSON pointer under "A message (messages[1])";
    the client turns it into the path the local rules and the pages use."""
    body = (
        b'{"message":"A message (messages[1]) in the request body is invalid","details":'
        b'[{"message":"invalid property","property":"/footer/contents/0/action/label"},'
        b'{"message":"must be specified","property":"/body/layout"}]}'
    )
    async with _mock_client(400, body) as client:
        with pytest.raises(LineInvalidRequestError) as caught:
            await client.validate(kind="push", messages=HELLO)
    assert caught.value.details == [
        {
            "message": "invalid property",
            "property": "messages[1].contents.footer.contents[0].action.label",
        },
        {"message": "must be specified", "property": "messages[1].contents.body.layout"},
    ]
