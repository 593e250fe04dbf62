"""Fixtures for lineapi tests: a LineClient and a raw HTTP client on the emulator, both
recording every exchange and checking it against LINE's OpenAPI documents after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

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
