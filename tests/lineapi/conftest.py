"""Fixtures for lineapi tests: a LineClient and a raw HTTP client on the emulator, both
recording every exchange and checking it against LINE's OpenAPI documents after the test."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

from lineapi import LineClient
from lineapi.transport import AiohttpPoolTransport
from tests.emulator_fixtures import EmulatorHandle
from tests.lineapi.contract import Recorder, RecordingTransport


@pytest.fixture
def contract() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.validate_all()


def make_client(
    handle: EmulatorHandle, recorder: Recorder, *, token: str | None = None, **kwargs: float
) -> LineClient:
    transport = RecordingTransport(AiohttpPoolTransport(), recorder)
    return LineClient(
        token=token or handle.token, base_url=handle.base_url, transport=transport, **kwargs
    )


@pytest.fixture
async def client(emulator: EmulatorHandle, contract: Recorder) -> AsyncIterator[LineClient]:
    async with make_client(emulator, contract) as line:
        yield line


@pytest.fixture
async def raw(emulator: EmulatorHandle, contract: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the emulator, for requests LineClient would never send."""
    transport = RecordingTransport(httpx.AsyncHTTPTransport(), contract)
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with httpx.AsyncClient(
        base_url=emulator.base_url, transport=transport, headers=headers
    ) as http:
        yield http


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str | None]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("x-line-signature")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list]]:
    """A webhook receiver on loopback: its URL and the (body, signature) pairs it got."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def line_sdk(handle: EmulatorHandle) -> MessagingApi:
    """LINE's own Python SDK pointed at the emulator: a second client besides ours."""
    config = Configuration(access_token=handle.token, host=handle.base_url)
    return MessagingApi(ApiClient(config))
