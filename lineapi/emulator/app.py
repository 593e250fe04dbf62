"""The emulator as a raw ASGI app: no framework, so that it is never the bottleneck."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from lineapi.emulator import inspect
from lineapi.emulator.config import EmulatorConfig
from lineapi.emulator.state import State
from lineapi.errors import (
    INVALID_REPLY_TOKEN_MESSAGE,
    MONTHLY_LIMIT_MESSAGE,
    RATE_LIMIT_MESSAGE,
    RETRY_KEY_ACCEPTED_MESSAGE,
)
from lineapi.messages import (
    line_error_body,
    validate_aggregation_units,
    validate_messages,
    validate_multicast_ids,
    validate_push_target,
    validate_reply_token,
)

MAX_BODY = 2 * 1024 * 1024
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
PROFILE = "/v2/bot/profile/"
# LINE takes X-Line-Retry-Key on these alone and refuses any other request that carries one.
RETRY_KEY_PATHS = {
    f"/v2/bot/message/{kind}" for kind in ("push", "multicast", "narrowcast", "broadcast")
}
RETRY_KEY_NOT_SUPPORTED = "The 'X-Line-Retry-Key' header is not supported by this API"
RETRY_KEY_TTL_S = 24 * 3600
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
JSON_HEADERS = [(b"content-type", b"application/json")]

Reply = tuple[int, Any, list[tuple[bytes, bytes]]]
DROP: Reply = (0, None, [])


class Request:
    __slots__ = ("body", "headers", "method", "path", "query", "send")

    def __init__(self, scope: dict, body: bytes, send: Callable) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: dict[bytes, bytes] = dict(scope["headers"])
        self.body = body
        self.send = send

    def json(self) -> Any:
        return json.loads(self.body)

    def json_body(self) -> tuple[Any, Reply | None]:
        """The parsed body, or LINE's answer to a body that is not JSON."""
        ctype = self.headers.get(b"content-type", b"").decode("latin-1")
        media = ctype.split(";", 1)[0].strip().lower()
        if media != "application/json":
            return None, error(415, f"The content type, '{ctype}', is not supported")
        try:
            return self.json(), None
        except ValueError as exc:
            where = (
                f"line: {exc.lineno}, column: {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else "line: 1, column: 1"
            )
            return None, error(400, f"The request body could not be parsed as JSON ({where})")


def error(status: int, message: str, details: list | None = None, **extra: Any) -> Reply:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    body.update(extra)
    return status, body, []


def invalid(details: list[dict]) -> Reply:
    return 400, line_error_body(details), []


async def _read_body(receive: Callable) -> bytes | None:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Callable, reply: Reply) -> None:
    status, body, headers = reply
    if isinstance(body, bytes):  # the reply's own headers name its content type
        payload, ctype = body, []
    elif isinstance(body, str):
        payload, ctype = body.encode(), [(b"content-type", b"text/html; charset=utf-8")]
    else:
        payload, ctype = json.dumps(body, separators=(",", ":")).encode(), JSON_HEADERS
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*ctype, (b"content-length", str(len(payload)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _drop_connection(send: Callable) -> None:
    # ASGI has no "close without answering"; uvicorn's send is a bound method of the
    # request cycle, which holds the transport. Closing it answers nothing, like a dead peer.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.close()


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.state = State(config=config, initial=config)
        self.routes: dict[tuple[str, str], Callable[[Request], Awaitable[Reply]]] = {
            ("POST", "/v2/bot/message/push"): self.push,
            ("POST", "/v2/bot/message/reply"): self.reply,
            ("POST", "/v2/bot/message/multicast"): self.multicast,
            ("POST", "/v2/bot/message/broadcast"): self.broadcast,
            ("GET", "/v2/bot/info"): self.bot_info,
            ("GET", "/v2/bot/message/quota"): self.quota,
            ("GET", "/v2/bot/message/quota/consumption"): self.consumption,
            ("GET", "/v2/bot/followers/ids"): self.follower_ids,
            ("GET", "/v2/bot/insight/message/event/aggregation"): self.insight,
        }
        for kind in ("push", "multicast", "reply", "narrowcast", "broadcast"):
            self.routes[("POST", f"/v2/bot/message/validate/{kind}")] = self.validate
        self.inspect = inspect.Inspector(self.state)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, error(413, "Request Entity Too Large"))
            return
        request = Request(scope, body, send)
        if request.path.startswith("/_emulator"):
            await _respond(send, await self.inspect.handle(request))
            return
        reply = await self.line_api(request)
        if reply is DROP:
            _drop_connection(send)
            return
        if self.state.config.latency_ms:
            await asyncio.sleep(self.state.config.latency_ms / 1000)
        headers = reply[2]
        if not headers or headers[-1][0] != b"x-line-request-id":
            headers.append((b"x-line-request-id", self.state.next_request_id().encode()))
        await _respond(send, reply)

    async def line_api(self, request: Request) -> Reply:
        if request.headers.get(b"authorization") != self.state.auth:
            return error(401, AUTH_FAILED)
        handler = self.routes.get((request.method, request.path))
        if handler is None and request.method == "GET" and request.path.startswith(PROFILE):
            handler = self.profile
        if handler is None:
            return error(404, "Not found")
        if b"x-line-retry-key" in request.headers and request.path not in RETRY_KEY_PATHS:
            return error(400, RETRY_KEY_NOT_SUPPORTED)
        return await handler(request)

    # --- sends -------------------------------------------------------------------------------

    async def push(self, request: Request) -> Reply:
        return await self._send(request, "push")

    async def multicast(self, request: Request) -> Reply:
        return await self._send(request, "multicast")

    async def broadcast(self, request: Request) -> Reply:
        return await self._send(request, "broadcast")

    async def reply(self, request: Request) -> Reply:
        """A reply (docs/design.md §6): no retry key (refused in `line_api`), no quota; the
        token must be one a webhook event carried, unused and within its lifetime."""
        state = self.state
        body, reply = self._parse_send(request, "reply", None)
        if reply is not None:
            state.stats["invalid_requests"] += 1
            return reply
        reply = await self._admit("reply")
        if reply is not None:
            return reply
        token = body["replyToken"]
        chat = state.take_reply_token(token)
        if chat is None:
            state.stats["invalid_reply_tokens"] += 1
            return error(400, INVALID_REPLY_TOKEN_MESSAGE)
        return self._accept(body, "reply", [chat], None, reply_token=token)

    async def _admit(self, kind: str) -> Reply | None:
        """The rate limit and the injected faults every send goes through."""
        state = self.state
        if not state.bucket(kind).take():
            state.stats["rate_limited"] += 1
            return error(429, RATE_LIMIT_MESSAGE)
        if state.config.fault_rate and random.random() < state.config.fault_rate:
            return await self._fault()
        return None

    async def _send(self, request: Request, kind: str) -> Reply:
        state = self.state
        retry_key = request.headers.get(b"x-line-retry-key", b"").decode() or None
        body, reply = self._parse_send(request, kind, retry_key)
        if reply is not None:
            state.stats["invalid_requests"] += 1
            return reply
        reply = await self._admit(kind)
        if reply is not None:
            return reply
        if retry_key is not None and state.retry_key_taken(retry_key, RETRY_KEY_TTL_S):
            return self._duplicate(retry_key, kind)
        recipients = self._recipients(body, kind)
        quota = state.config.monthly_quota
        if quota is not None and state.stats["accepted_recipients"] + len(recipients) > quota:
            state.stats["monthly_limited"] += 1
            return error(429, MONTHLY_LIMIT_MESSAGE)
        return self._accept(body, kind, recipients, retry_key)

    def _parse_send(
        self, request: Request, kind: str, retry_key: str | None
    ) -> tuple[dict, Reply | None]:
        if retry_key is not None and not UUID_RE.match(retry_key):
            return {}, error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
        body, reply = request.json_body()
        if reply is not None:
            return {}, reply
        if not isinstance(body, dict):
            return {}, invalid([{"message": "Must be an object", "property": ""}])
        details = validate_messages(body.get("messages"))
        if kind == "reply":
            details += validate_reply_token(body.get("replyToken"))
        else:
            details += validate_aggregation_units(body.get("customAggregationUnits"))
        if kind == "push":
            details += validate_push_target(body.get("to"))
        elif kind == "multicast":
            details += validate_multicast_ids(body.get("to"))
        return body, (invalid(details) if details else None)

    def _recipients(self, body: dict, kind: str) -> list[str]:
        if kind == "push":
            return [body["to"]]
        if kind == "multicast":
            return body["to"]
        return list(self.state.followers)

    async def _fault(self) -> Reply:
        self.state.stats["faults_injected"] += 1
        if random.random() < 0.5:
            return error(500, "Internal server error")
        await asyncio.sleep(self.state.config.fault_hold_s)
        return DROP

    def _duplicate(self, retry_key: str, kind: str) -> Reply:
        accepted = self.state.retry_keys[retry_key]
        self.state.stats["duplicate_retries"] += 1
        extra = {"sentMessages": accepted.sent_messages} if kind == "push" else {}
        status, body, headers = error(409, RETRY_KEY_ACCEPTED_MESSAGE, **extra)
        headers.append((b"x-line-accepted-request-id", accepted.request_id.encode()))
        return status, body, headers

    def _accept(
        self,
        body: dict,
        kind: str,
        recipients: list[str],
        retry_key: str | None,
        *,
        reply_token: str | None = None,
    ) -> Reply:
        state = self.state
        request_id = state.next_request_id()
        answers_sent = kind in ("push", "reply")
        sent = state.sent_messages(len(body["messages"])) if answers_sent else []
        state.record(
            recipients, body, retry_key, request_id, sent, via=kind, reply_token=reply_token
        )
        response = {"sentMessages": sent} if answers_sent else {}
        return 200, response, [(b"x-line-request-id", request_id.encode())]

    async def validate(self, request: Request) -> Reply:
        body, reply = request.json_body()
        if reply is not None:
            return reply
        details = validate_messages(body.get("messages") if isinstance(body, dict) else None)
        if details:
            self.state.stats["invalid_requests"] += 1
            return invalid(details)
        return 200, {}, []

    # --- reads -------------------------------------------------------------------------------

    async def bot_info(self, request: Request) -> Reply:
        return 200, inspect.bot_info(self.state, inspect.own_url(request)), []

    async def quota(self, request: Request) -> Reply:
        self.state.stats["quota_requests"] += 1
        quota = self.state.config.monthly_quota
        body = {"type": "none"} if quota is None else {"type": "limited", "value": quota}
        return 200, body, []

    async def consumption(self, request: Request) -> Reply:
        return 200, {"totalUsage": self.state.stats["accepted_recipients"]}, []

    async def follower_ids(self, request: Request) -> Reply:
        if self.state.config.unverified:
            return error(403, "Access to this API is not available for your account")
        return inspect.follower_page(self.state, request.query)

    async def profile(self, request: Request) -> Reply:
        user_id = request.path.rsplit("/", 1)[-1]
        body = inspect.profile(self.state, user_id, inspect.own_url(request))
        return (200, body, []) if body else error(404, "Not found")

    async def insight(self, request: Request) -> Reply:
        return inspect.insight(self.state, request.query)


async def _lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(config: EmulatorConfig) -> Emulator:
    return Emulator(config)
