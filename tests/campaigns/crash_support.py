"""For the crash tests: real Celery workers in subprocesses against this test's PostgreSQL
database, and a private Redis server a test may stop and start again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection

from linecampaigns.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the crash tests need PostgreSQL (set DATABASE_URL); .ci/run provides it")


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _environment(*, broker_url: str, redis_url: str, var_dir: Path, **env: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": redis_url,
        "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEY),
        "DEBUG": "true",
        "VAR_DIR": str(var_dir),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **env,
    }


def _celery(args: list[str], **options) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "linecampaigns", *args, "-l", "WARNING"]
    return subprocess.Popen(command, cwd=ROOT, env=_environment(**options), start_new_session=True)


def start_worker(
    name: str, *, beat: bool = False, queues: str = "campaigns", **options
) -> subprocess.Popen:
    """A worker on the campaigns queue (or `queues`; two processes), with the beat embedded if
    asked. `options`: broker_url, redis_url, var_dir and environment variables."""
    args = ["worker", "-Q", queues, "--concurrency", "2", "--pool", "prefork",
            "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]  # fmt: skip
    if beat:
        args += ["-B", "-s", str(options["var_dir"] / f"{name}-beat-schedule")]
    return _celery(args, **options)


def wait_for_workers(n: int, timeout: float = 120, **options) -> None:
    """Until `n` workers answer a ping. Asked from a subprocess: a control reply consumer left
    in this process would hang the processes later tests fork."""
    command = [sys.executable, "-m", "celery", "-A", "linecampaigns", "inspect", "ping", "-t", "2"]

    def answered() -> bool:
        ping = subprocess.run(
            command, cwd=ROOT, env=_environment(**options), capture_output=True, text=True
        )
        return ping.stdout.count("pong") >= n

    wait_for(answered, timeout, f"{n} workers to start")


def start_beat(**options) -> subprocess.Popen:
    """The beat on its own, as in production: the sweeper runs every 10 s whatever the
    workers do."""
    return _celery(["beat", "-s", str(options["var_dir"] / "beat-schedule")], **options)


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """The process and everything it started (the worker's pool and beat)."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(30)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A Redis server of the test's own, without persistence: stopped, it loses every queued
    message, as a broker restarted without its data does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), *options], stdout=subprocess.DEVNULL
        )
        wait_for(self._answers, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def use_broker(url: str) -> None:
    """Where this process's Celery app publishes; the connections to the last one are closed."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    kombu.pools.reset()  # closes the producer pools and forgets them
    celery_app.conf.broker_url = url
    celery_app.amqp._producer_pool = None
    celery_app._pool = None
