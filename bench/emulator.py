"""Start the LINE emulator as a subprocess for a benchmark and watch its CPU."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningEmulator:
    def __init__(self, proc: subprocess.Popen, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.token = TOKEN
        self.ps = psutil.Process(proc.pid)

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/_emulator/reset", timeout=30).raise_for_status()

    def stats(self) -> dict:
        return httpx.get(f"{self.base_url}/_emulator/stats", timeout=30).json()

    def cpu_percent(self) -> float:
        """Percent of one core since the previous call (psutil semantics)."""
        return self.ps.cpu_percent(None)


@contextmanager
def emulator(*flags: str) -> Iterator[RunningEmulator]:
    port = free_port()
    cmd = [sys.executable, "-m", "lineapi.emulator", "--port", str(port), "--token", TOKEN, *flags]
    proc = subprocess.Popen(cmd)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{base_url}/_emulator/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)
        yield RunningEmulator(proc, base_url)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
