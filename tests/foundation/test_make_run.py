"""`make run`'s launcher, as a newcomer meets it: everything up, demo data in, one signal stops
it all."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from tests.emulator_fixtures import _free_port

ROOT = Path(__file__).resolve().parents[2]


def _drain(proc: subprocess.Popen) -> tuple[threading.Thread, list[str]]:
    """Read the launcher's output as it comes, so a full pipe never blocks it or its children.
    The thread ends when the launcher and every child have closed the pipe."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    return reader, lines


def _wait_healthy(url: str, proc: subprocess.Popen, output: list[str], timeout=180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            time.sleep(1)
            raise AssertionError(f"the launcher stopped with {proc.returncode}:\n{''.join(output)}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"/healthz never said all ok:\n{''.join(output)}")


def test_make_run_starts_everything_with_a_sandbox_and_stops_on_one_signal(tmp_path):
    port, emulator_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(
        DEBUG="true",
        VAR_DIR=str(tmp_path),
        EMULATOR_PORT=str(emulator_port),
        DJANGO_SUPERUSER_PASSWORD="first-run-pass-2026",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "linecampaigns.devserver", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reader, lines = _drain(proc)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(url, proc, lines) == {"database": "ok", "broker": "ok", "worker": "ok"}
        assert httpx.get(f"{url}/accounts/login/").status_code == 200
        chat = httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/")
        assert chat.status_code == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=30)
    output = "".join(lines)
    assert "Username: admin  Password: first-run-pass-2026" in output
    assert "1000 sample contacts, 4 segments and 2 message templates" in output
    assert f"running at {url}/" in output
    assert not [child for child in children if child.is_running() and child.status() != "zombie"]


def test_make_run_refuses_a_taken_port_before_touching_the_database(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DEBUG": "true", "VAR_DIR": str(tmp_path)}
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "linecampaigns.devserver", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} is taken, so the dashboard cannot start" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()
