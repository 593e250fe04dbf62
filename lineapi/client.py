"""The one door to LINE: an async client on httpx with an aiohttp transport.

httpx's own async pool slows down sharply with many requests in flight (encode/httpx#3215),
so the client keeps httpx as its API and hands the connections to aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from lineapi.errors import (
    LineApiError,
    LineConnectionError,
    LineDuplicateRetryKeyError,
    LineTimeoutError,
    error_for_status,
)
from lineapi.messages import details_from_line
from lineapi.transport import AiohttpPoolTransport

DEFAULT_BASE_URL = "https://api.line.me"
VALIDATE_KINDS = ("push", "multicast", "reply")
MAX_FOLLOWER_PAGE = 1000


@dataclass(frozen=True)
class SendResult:
    request_id: str | None
    sent_messages: list[dict]
    status: int


@dataclass(frozen=True)
class BotInfo:
    user_id: str
    basic_id: str
    display_name: str
    picture_url: str | None
    chat_mode: str
    mark_as_read_mode: str
    premium_id: str | None


@dataclass(frozen=True)
class Quota:
    type: str
    value: int | None


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str | None
    status_message: str | None
    language: str | None


def _dumps(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _send_body(
    to: str | list[str],
    messages: list[dict],
    notification_disabled: bool,
    custom_aggregation_units: list[str] | None,
) -> bytes:
    body: dict[str, Any] = {"to": to, "messages": messages}
    if notification_disabled:
        body["notificationDisabled"] = True
    if custom_aggregation_units:
        body["customAggregationUnits"] = custom_aggregation_units
    return _dumps(body)


def _retry_header(retry_key: str) -> list[tuple[bytes, bytes]]:
    if not retry_key:
        raise ValueError("retry_key is required for sends; fix it before the first attempt")
    return [(b"X-Line-Retry-Key", retry_key.encode())]


def _error_from_response(response: httpx.Response) -> LineApiError:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = str(data.get("message") or response.reason_phrase or "HTTP error")
    cls = error_for_status(response.status_code, message)
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "details": details_from_line(data),
        "request_id": response.headers.get("x-line-request-id"),
        "accepted_request_id": response.headers.get("x-line-accepted-request-id"),
    }
    if cls is LineDuplicateRetryKeyError:
        kwargs["sent_messages"] = data.get("sentMessages") or []
    return cls(message, **kwargs)


def _network_error(exc: httpx.TransportError) -> LineApiError:
    if isinstance(exc, httpx.TimeoutException):
        return LineTimeoutError(f"timed out: {type(exc).__name__}")
    return LineConnectionError(f"connection failed: {type(exc).__name__}: {exc}")


class LineClient:
    def __init__(
        self,
        *,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        pool_timeout: float = 10.0,
        max_connections: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = [(b"Authorization", f"Bearer {token}".encode())]
        self._timeout = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": pool_timeout,
        }
        self._transport = transport or AiohttpPoolTransport(max_connections=max_connections)
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return f"LineClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> LineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _url(self, path: str) -> httpx.URL:
        # URL parsing is a visible share of a send's CPU; LINE's paths are few, so keep them.
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.base_url + path)
        return url

    async def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: dict | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> httpx.Response:
        url = self._url(path)
        if params:
            url = url.copy_merge_params(params)
        request_headers = [*self._auth, *(headers or ())]
        if content is not None:
            request_headers.append((b"Content-Type", b"application/json"))
        # The client talks to its transport directly: httpx.AsyncClient's per-request work
        # (URL merging, cookie jar, auth and redirect flows) costs more than the send itself.
        request = httpx.Request(
            method,
            url,
            headers=request_headers,
            content=content,
            extensions={"timeout": self._timeout},
        )
        try:
            response = await self._transport.handle_async_request(request)
            await response.aread()
        except httpx.TransportError as exc:
            raise _network_error(exc) from None
        if response.status_code >= 400:
            raise _error_from_response(response)
        return response

    async def _send(
        self, path: str, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> SendResult:
        response = await self._request("POST", path, content=body, headers=headers)
        data = response.json() if response.content else {}
        return SendResult(
            request_id=response.headers.get("x-line-request-id"),
            sent_messages=data.get("sentMessages") or [],
            status=response.status_code,
        )

    async def push(
        self,
        *,
        to: str,
        messages: list[dict],
        retry_key: str,
        notification_disabled: bool = False,
        custom_aggregation_units: list[str] | None = None,
    ) -> SendResult:
        body = _send_body(to, messages, notification_disabled, custom_aggregation_units)
        return await self._send("/v2/bot/message/push", body, _retry_header(retry_key))

    async def reply(
        self, *, reply_token: str, messages: list[dict], notification_disabled: bool = False
    ) -> SendResult:
        """A reply costs no monthly quota. LINE takes no retry key on it: a token is single use
        and lives about a minute, and a used, expired or unknown one raises
        LineInvalidReplyTokenError (push instead; docs/design.md §6)."""
        body: dict[str, Any] = {"replyToken": reply_token, "messages": messages}
        if notification_disabled:
            body["notificationDisabled"] = True
        return await self._send("/v2/bot/message/reply", _dumps(body))

    async def multicast(
        self,
        *,
        to: list[str],
        messages: list[dict],
        retry_key: str,
        notification_disabled: bool = False,
        custom_aggregation_units: list[str] | None = None,
    ) -> SendResult:
        body = _send_body(list(to), messages, notification_disabled, custom_aggregation_units)
        return await self._send("/v2/bot/message/multicast", body, _retry_header(retry_key))

    async def validate(self, *, kind: str, messages: list[dict]) -> None:
        if kind not in VALIDATE_KINDS:
            raise ValueError(f"kind must be one of {VALIDATE_KINDS}, not {kind!r}")
        body = _dumps({"messages": messages})
        await self._request("POST", f"/v2/bot/message/validate/{kind}", content=body)

    async def bot_info(self) -> BotInfo:
        data = (await self._request("GET", "/v2/bot/info")).json()
        return BotInfo(
            user_id=data["userId"],
            basic_id=data["basicId"],
            display_name=data["displayName"],
            picture_url=data.get("pictureUrl"),
            chat_mode=data["chatMode"],
            mark_as_read_mode=data["markAsReadMode"],
            premium_id=data.get("premiumId"),
        )

    async def quota(self) -> Quota:
        data = (await self._request("GET", "/v2/bot/message/quota")).json()
        return Quota(type=data["type"], value=data.get("value"))

    async def quota_consumption(self) -> int:
        data = (await self._request("GET", "/v2/bot/message/quota/consumption")).json()
        return int(data["totalUsage"])

    async def follower_ids(self, *, limit: int = MAX_FOLLOWER_PAGE) -> AsyncIterator[list[str]]:
        if not 1 <= limit <= MAX_FOLLOWER_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_FOLLOWER_PAGE}")
        start: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if start:
                params["start"] = start
            data = (await self._request("GET", "/v2/bot/followers/ids", params=params)).json()
            yield data.get("userIds") or []
            start = data.get("next")
            if not start:
                return

    async def profile(self, user_id: str) -> Profile:
        data = (await self._request("GET", f"/v2/bot/profile/{user_id}")).json()
        return Profile(
            user_id=data["userId"],
            display_name=data["displayName"],
            picture_url=data.get("pictureUrl"),
            status_message=data.get("statusMessage"),
            language=data.get("language"),
        )

    async def insight_aggregation(self, *, unit: str, from_date: str, to_date: str) -> dict:
        params = {"customAggregationUnit": unit, "from": from_date, "to": to_date}
        response = await self._request(
            "GET", "/v2/bot/insight/message/event/aggregation", params=params
        )
        return response.json()
