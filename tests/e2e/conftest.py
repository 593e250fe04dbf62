"""Browser tests: the real app (web, worker, beat) and the LINE emulator on free ports, driven
by Playwright in Debian's Chromium. Enable them elsewhere with `apt-get install chromium`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from linecampaigns.devserver import web_argv, worker_argv
from tests.emulator_fixtures import EmulatorHandle, _free_port, launch_emulator

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "e2e"
PASSWORD = "e2e-pass-phrase-2026"
USERS = {"admin": "Admin", "marketer": "Marketer", "analyst": "Analyst"}

_CREATE_USERS = """
from django.contrib.auth.models import Group, User
for name, role in {users!r}.items():
    user = User.objects.create_user(username=name, password={password!r})
    user.groups.add(Group.objects.get(name=role))
"""


def pytest_collection_modifyitems(config, items) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"browser tests need Chromium at {CHROMIUM}: install it with "
        "`apt-get install chromium` (or set E2E_CHROMIUM to its path)"
    )
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@dataclass
class App:
    url: str
    emulator: EmulatorHandle
    var_dir: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start_app(tmp: Path) -> App:
    emulator = launch_emulator(followers=200, latency_ms=5)
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(DEBUG="true", VAR_DIR=str(tmp), DEMO="0", PYTHONUNBUFFERED="1")
    app = App(url=f"http://127.0.0.1:{port}", emulator=emulator, var_dir=tmp, env=env)
    app.manage("migrate", "--no-input", "-v", "0")
    app.manage("shell", "-v", "0", "-c", _CREATE_USERS.format(users=USERS, password=PASSWORD))
    log = open(tmp / "app.log", "w")  # noqa: SIM115 (kept open for the processes' lifetime)
    for argv in (web_argv(port), worker_argv(tmp, log_level="WARNING")):
        app.processes.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{app.url}/healthz", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    app.stop()
    emulator.stop()
    raise RuntimeError(f"the app did not become healthy; see {tmp / 'app.log'}")


@pytest.fixture(scope="session")
def app(tmp_path_factory) -> Iterator[App]:
    started = _start_app(tmp_path_factory.mktemp("e2e-app"))
    yield started
    started.stop()
    started.emulator.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} at {msg.location.get('url')}")
            if msg.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


# A 1x1 transparent PNG: what the browser gets for any image outside the machine.
_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _offline_internet(page) -> None:
    """The app and the emulator live on loopback; the tests must not depend on the internet
    (the emulator's bot picture, for one, points at LINE's CDN). Answer such requests locally."""
    page.route(
        re.compile(r"^https?://(?!127\.0\.0\.1[:/])"),
        lambda route: route.fulfill(body=_PIXEL, content_type="image/png"),
    )


@pytest.fixture(autouse=True)
def _browser_guard(request, page, console_errors) -> Iterator[None]:
    """Saves a screenshot and the HTML on failure; fails a test that logged a JS error."""
    yield
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
    assert not console_errors, f"JavaScript console errors: {console_errors}"


def login(page, app: App, username: str) -> None:
    page.goto(f"{app.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{app.url}/")
