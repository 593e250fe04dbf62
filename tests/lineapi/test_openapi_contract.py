"""The contract checker itself must catch what breaks LINE's documents."""

from __future__ import annotations

import httpx
import pytest
from openapi_core.validation.request.exceptions import InvalidRequestBody

from lineapi import LineClient
from tests.emulator_fixtures import EmulatorHandle
from tests.lineapi.contract import SHARED_SPECS, SPECS, Recorder, validate_exchange

USER = "U" + "1" * 32
PUSH_URL = "https://api.line.me/v2/bot/message/push"


def _push_request(body: dict) -> httpx.Request:
    return httpx.Request("POST", PUSH_URL, json=body, headers={"Authorization": "Bearer t"})


def test_a_push_answer_without_sent_messages_breaks_the_contract() -> None:
    request = _push_request({"to": USER, "messages": [{"type": "text", "text": "hi"}]})
    response = httpx.Response(200, json={"unexpected": True})
    with pytest.raises(Exception, match="sentMessages"):
        validate_exchange(request, response)


def test_an_error_without_message_breaks_the_contract() -> None:
    request = _push_request({"to": USER, "messages": [{"type": "text", "text": "hi"}]})
    with pytest.raises(Exception, match="message"):
        validate_exchange(request, httpx.Response(500, json={"error": "boom"}))


def test_a_push_request_without_messages_breaks_the_contract() -> None:
    request = _push_request({"to": USER})
    with pytest.raises(InvalidRequestBody) as caught:
        validate_exchange(request, httpx.Response(200, json={"sentMessages": [{"id": "1"}]}))
    assert "'messages' is a required property" in str(caught.value.__cause__)


async def test_every_client_method_follows_the_documents(
    client: LineClient, contract: Recorder, emulator: EmulatorHandle
) -> None:
    messages = [{"type": "text", "text": "hello"}]
    await client.push(to=USER, messages=messages, retry_key="123e4567-e89b-12d3-a456-426614174000")
    await client.multicast(
        to=[USER],
        messages=messages,
        retry_key="123e4567-e89b-12d3-a456-426614174001",
        custom_aggregation_units=["spring_sale"],
    )
    await client.validate(kind="push", messages=messages)
    await client.validate(kind="multicast", messages=messages)
    await client.bot_info()
    await client.quota()
    await client.quota_consumption()
    pages = [page async for page in client.follower_ids(limit=20)]
    await client.profile(pages[0][0])
    await client.insight_aggregation(unit="spring_sale", from_date="20260101", to_date="20260130")
    assert contract.validate_all() == 12


@pytest.mark.parametrize("name", ["messaging-api.yml", "webhook.yml", "insight.yml", "LICENSE"])
def test_the_bundled_specification_is_lines_own(name: str) -> None:
    if not SHARED_SPECS.is_dir():
        pytest.skip("../shared/line-openapi is not beside this clone")
    assert (SPECS / name).read_bytes() == (SHARED_SPECS / name).read_bytes()
