"""pytest plugin: the LINE emulator as a real server on loopback.

Register with `pytest_plugins = ["tests.emulator_fixtures"]`. Fixtures:
`line_emulator` (session), `emulator` (reset before each test), `start_emulator` (factory).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"
SECRET = "test-secret"
# --allow-config: the tests change quotas, faults and latency through POST /_emulator/config.
DEFAULT_FLAGS = {"followers": 50, "latency_ms": 0, "allow_config": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flag_args(opts: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value not in (False, None):
            args += [flag, str(value)]
    return args


class EmulatorHandle:
    def __init__(self, proc: subprocess.Popen, base_url: str, token: str, secret: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.token = token
        self.secret = secret
        self._http = httpx.Client(base_url=base_url, timeout=30)

    def __repr__(self) -> str:
        return f"EmulatorHandle(base_url={self.base_url!r})"

    def messages(self, to: str | None = None) -> list[dict]:
        params = {"to": to} if to else None
        return self._ok(self._http.get("/_emulator/messages", params=params)).json()

    def stats(self) -> dict:
        return self._ok(self._http.get("/_emulator/stats")).json()

    def reset(self, *, config: bool = False) -> None:
        self._ok(self._http.post("/_emulator/reset", json={"config": config}))

    def configure(self, **opts: Any) -> dict:
        return self._ok(self._http.post("/_emulator/config", json=opts)).json()

    def send_webhook(self, url: str, events: list[dict]) -> int:
        response = self._http.post("/_emulator/webhook", json={"url": url, "events": events})
        return self._ok(response).json()["status"]

    def wait_healthy(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._ok(self._http.get("/_emulator/health", timeout=1))
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the LINE emulator did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self._http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @staticmethod
    def _ok(response: httpx.Response) -> httpx.Response:
        response.raise_for_status()
        return response


def launch_emulator(**cli_opts: Any) -> EmulatorHandle:
    opts = {**DEFAULT_FLAGS, "token": TOKEN, "secret": SECRET, **cli_opts}
    port = _free_port()
    cmd = [sys.executable, "-m", "lineapi.emulator", "--port", str(port), *_flag_args(opts)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    handle = EmulatorHandle(proc, f"http://127.0.0.1:{port}", opts["token"], opts["secret"])
    handle.wait_healthy()
    return handle


@pytest.fixture(scope="session")
def line_emulator() -> Iterator[EmulatorHandle]:
    handle = launch_emulator()
    yield handle
    handle.stop()


@pytest.fixture
def emulator(line_emulator: EmulatorHandle) -> EmulatorHandle:
    line_emulator.reset(config=True)
    return line_emulator


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorHandle]]:
    started: list[EmulatorHandle] = []

    def start(**cli_opts: Any) -> EmulatorHandle:
        handle = launch_emulator(**cli_opts)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()
