"""Check HTTP exchanges with the emulator against LINE's published OpenAPI documents."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

# A verbatim copy of LINE's specification (Apache-2.0; see line-openapi/SOURCE.txt), so the
# suite runs from a bare clone; test_openapi_contract checks it against ../shared when present.
SPECS = Path(__file__).resolve().parent / "line-openapi"
SHARED_SPECS = Path(__file__).resolve().parents[3] / "shared" / "line-openapi"
LINE_HOST = "https://api.line.me"
INSIGHT_PREFIX = "/v2/bot/insight/"
# LINE rejects these as malformed input; such requests cannot match the schema by design.
MALFORMED_STATUSES = {400, 413, 415}


@functools.cache
def openapi(name: str) -> OpenAPI:
    return OpenAPI.from_file_path(str(SPECS / name))


@functools.cache
def error_validator() -> OAS30Validator:
    spec = yaml.safe_load((SPECS / "messaging-api.yml").read_text())
    schema = {**spec["components"]["schemas"]["ErrorResponse"], "components": spec["components"]}
    return OAS30Validator(schema)


class OpenAPIRequest:
    """An httpx request as openapi-core sees it, as if it had been sent to api.line.me."""

    def __init__(self, request: httpx.Request, host_url: str = LINE_HOST) -> None:
        self.request = request
        self.host_url = host_url
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "application/json")


class OpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.items()))

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "")

    @property
    def data(self) -> bytes | None:
        return self.response.content or None


def validate_exchange(request: httpx.Request, response: httpx.Response) -> None:
    """Raises if the request or the response does not follow LINE's OpenAPI document."""
    path = request.url.path
    api = openapi("insight.yml" if path.startswith(INSIGHT_PREFIX) else "messaging-api.yml")
    req = OpenAPIRequest(request)
    if response.status_code not in MALFORMED_STATUSES:
        api.validate_request(req)
    try:
        api.validate_response(req, OpenAPIResponse(response))
    except ResponseNotFound:
        # The documents list only some error statuses per operation (no 401, 413 or 5xx);
        # every LINE error still uses the common error body.
        if response.status_code < 400:
            raise
        error_validator().validate(json.loads(response.content))


@dataclass
class Recorder:
    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)

    def validate_all(self) -> int:
        for request, response in self.exchanges:
            try:
                validate_exchange(request, response)
            except Exception as exc:
                raise AssertionError(
                    f"{request.method} {request.url.path} -> {response.status_code} breaks "
                    f"LINE's OpenAPI contract: {exc!r}\nresponse: {response.content[:500]!r}"
                ) from exc
        return len(self.exchanges)


class RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.recorder.exchanges.append((request, response))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
