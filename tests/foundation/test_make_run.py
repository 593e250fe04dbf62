"""`make run` as a newcomer meets it, in a fresh copy of this checkout: everything up, demo data
in, the banner last on a quiet terminal, every command the README shows working from a second,
plain terminal, and one Ctrl-C stopping it all.

The tests of this module share one `make run` and go in file order; the last one stops it."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from linecampaigns import devserver
from tests.emulator_fixtures import _free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PASSWORD = "first-run-pass-2026"
BANNER_END = "Press Ctrl-C to stop."


def _plain_env(home: Path, **extra: str) -> dict[str, str]:
    """A new terminal's environment: no venv activated, nothing of this test run's settings."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), **extra}


def _copy_checkout(dest: Path) -> Path:
    """This working tree without its state; .venv is linked, not installed again (copytree
    keeps the file times, so make's install stamp stays newer than requirements.lock)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "var", ".env", "__pycache__", ".pytest_cache", ".ruff_cache"
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


@dataclass
class Run:
    checkout: Path
    home: Path
    url: str
    emulator_url: str
    proc: subprocess.Popen
    lines: list[str]
    reader: threading.Thread

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def sh(self, command: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.checkout,
            env=_plain_env(self.home, **env),
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,  # no terminal: getpass reads the piped stdin
        )

    def stop(self) -> None:
        """Ctrl-C: SIGINT to the foreground process group (make and the launcher)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=90)
        self.reader.join(timeout=30)


def _wait_for(condition, what: str, run: Run, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if run.proc.poll() is not None:
            time.sleep(1)
            raise AssertionError(f"make run stopped with {run.proc.returncode}:\n{run.output}")
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen:\n{run.output}")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    if not (ROOT / ".venv/.installed").exists():
        pytest.skip("no .venv made by `make install` to lend the copied checkout")
    checkout = _copy_checkout(tmp_path_factory.mktemp("first-hour") / "linecampaigns")
    home = tmp_path_factory.mktemp("home")
    port, emulator_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"EMULATOR_PORT={emulator_port}"],
        cwd=checkout,
        env=_plain_env(home, DJANGO_SUPERUSER_PASSWORD=PASSWORD),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    # Read the output as it comes, on a thread, so a full pipe never blocks the launcher or its
    # children; the thread ends when all of them have closed the pipe.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    run = Run(
        checkout,
        home,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{emulator_port}",
        proc,
        lines,
        reader,
    )
    try:
        _wait_for(lambda: BANNER_END in run.output, "the banner", run)
        yield run
    finally:
        run.stop()


def test_make_run_starts_everything_with_a_sandbox(make_run):
    health = httpx.get(f"{make_run.url}/healthz", timeout=10)
    assert health.json() == {"database": "ok", "broker": "ok", "worker": "ok"}
    assert httpx.get(f"{make_run.url}/accounts/login/").status_code == 200
    assert httpx.get(f"{make_run.emulator_url}/_emulator/").status_code == 200
    assert len(psutil.Process(make_run.proc.pid).children(recursive=True)) >= 4
    assert "1000 sample contacts, 4 segments, 2 message templates and 4 active journeys" in (
        make_run.output
    )


def test_the_banner_comes_last_and_the_terminal_stays_quiet(make_run):
    worker_log = make_run.checkout / "var/log/worker.log"
    # Let the worker and beat talk: a heartbeat task is sent every 15 s.
    heartbeat = re.compile(r"Task linecampaigns\.heartbeat\[.*succeeded")
    _wait_for(
        lambda: len(heartbeat.findall(worker_log.read_text())) >= 2,
        "two heartbeats in var/log/worker.log",
        make_run,
    )
    output = make_run.output
    assert output.rstrip().endswith(BANNER_END)
    banner = output[output.rindex("linecampaigns is running at") :]
    token = json.loads((make_run.checkout / "var/emulator.json").read_text())["token"]
    for shown in (
        f"running at {make_run.url}/",
        f"Username: admin  Password: {PASSWORD}",
        f"{make_run.emulator_url}/_emulator/",
        f"channel access token: {token}",
        f"{make_run.url}/api/v1/docs",
        "var/log/web.log",
        "make info",
    ):
        assert shown in banner, shown
    assert not re.search(r"INFO|celery@|beat: |Task |ready\.|GET /", output), output
    assert "GET /accounts/login/" in (make_run.checkout / "var/log/web.log").read_text()


def test_warnings_and_errors_still_reach_the_terminal(make_run):
    assert httpx.get(f"{make_run.url}/api/v1/no-such-thing").status_code == 404
    _wait_for(lambda: "Not Found: /api/v1/no-such-thing" in make_run.output, "a warning", make_run)


def test_make_run_wrote_a_local_env_with_debug_on(make_run):
    assert re.search(r"^DEBUG=true$", (make_run.checkout / ".env").read_text(), re.M)


# Every command the README shows for a local checkout, as the README writes it, with what to run
# (placeholders filled in) and what it must print.
CSV_LINES = [  # the README's example
    "line_id,name,plan,age,vip,joined",
    "U4af4980629e0b0c0cd4f1b2b4bd1a2b3,山田 花子,gold,34,yes,2024-05-01",
]
CSV = "\\n".join(CSV_LINES)
SECRET = "$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')"
FERNET = "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
README_COMMANDS = {
    "./manage.py ensure_admin": (
        "./manage.py ensure_admin",
        r"An Admin exists already \(Username: admin\)",
    ),
    "./manage.py changepassword admin": (
        "printf 'a-new-pass-2026\\na-new-pass-2026\\n' | ./manage.py changepassword admin",
        r"Password changed successfully for user 'admin'",
    ),
    "./manage.py createapitoken admin": ("./manage.py createapitoken admin", r"^lc_\S+$"),
    "./manage.py createapitoken USERNAME": ("./manage.py createapitoken admin", r"^lc_\S+$"),
    "./manage.py check --deploy": (
        "./manage.py check --deploy",
        r"security\.W004.*security\.W008.*security\.W012.*security\.W016.*security\.W018",
    ),
    "DEBUG=false SECRET_KEY=… ALLOWED_HOSTS=example.com ./manage.py check --deploy": (
        f"DEBUG=false SECRET_KEY={SECRET} ALLOWED_HOSTS=example.com ./manage.py check --deploy",
        r"System check identified no issues",
    ),
    "./manage.py import_contacts FILE.csv [--line-id-column line_id] [--display-name-column name]"
    " [--type age=number ...] [--skip COLUMN] [--replace-attributes]": (
        f"printf '{CSV}' > contacts.csv && ./manage.py import_contacts contacts.csv "
        "--display-name-column name --type age=number --skip joined",
        r"created 1, updated 0, rejected 0",
    ),
    "./manage.py rotate_secrets": (
        "./manage.py rotate_secrets",
        r"Re-encrypted the token and secret of 1 connection\(s\)",
    ),
    f".venv/bin/python -c '{FERNET}'": (f".venv/bin/python -c '{FERNET}'", r"^[\w-]{43}=$"),
}


def _readme_commands() -> set[str]:
    """The README's local commands: code lines and `inline code` that run ./manage.py or the
    venv's Python (comments cut, line breaks inside inline code joined)."""
    found = set()
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if "./manage.py" in command or command.startswith(".venv/"):
                found.add(command)
    for code in re.findall(r"`([^`]+)`", README.replace("```", "")):
        code = " ".join(code.split())
        if "./manage.py " in code or code.startswith(".venv/bin/python "):
            found.add(code)
    return found


def test_the_readme_shows_local_commands_as_they_run_from_any_terminal():
    assert _readme_commands() == set(README_COMMANDS)
    assert "\n".join(CSV_LINES) in README
    # `python manage.py …` needs an activated venv; only the compose stack's container has one.
    assert not re.search(r"(?<!exec web )python manage\.py", README)


def test_every_readme_command_works_from_a_plain_shell(make_run):
    for shown, (command, expected) in README_COMMANDS.items():
        result = make_run.sh(command)
        printed = result.stdout + result.stderr
        assert result.returncode == 0, f"{shown}:\n{printed}"
        assert re.search(expected, printed, re.M | re.S), f"{shown}:\n{printed}"


def test_make_info_shows_the_banner_again_without_the_password(make_run):
    result = make_run.sh("make info")
    assert result.returncode == 0, result.stderr
    token = json.loads((make_run.checkout / "var/emulator.json").read_text())["token"]
    assert f"linecampaigns is running at {make_run.url}/" in result.stdout
    assert "./manage.py changepassword admin" in result.stdout
    assert f"{make_run.emulator_url}/_emulator/" in result.stdout
    assert token in result.stdout
    assert PASSWORD not in result.stdout


def test_the_openapi_schema_answers_a_token_on_the_running_server(make_run):
    token = make_run.sh("./manage.py createapitoken admin").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    schema = httpx.get(f"{make_run.url}/api/v1/openapi.json", headers=headers)
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "linecampaigns API"


def test_a_new_friend_of_the_sandbox_gets_the_demo_welcome_as_a_reply(make_run):
    """The first hour's journey: the emulator's webhook (as its page's form sends it) reaches
    the dashboard, the worker enters the demo's welcome journey and replies through LINE."""
    slug = make_run.sh(
        './manage.py shell -c "from connections.models import Connection; '
        "print(Connection.objects.get(name='Sandbox').webhook_slug)\""
    ).stdout.split()[-1]  # after the shell's own "objects imported automatically" line
    user = "U" + "5e" * 16
    follow = {"type": "follow", "source": {"type": "user", "userId": user}}
    answer = httpx.post(
        f"{make_run.emulator_url}/_emulator/webhook",
        json={"url": f"{make_run.url}/webhooks/line/{slug}/", "events": [follow]},
        timeout=30,
    )
    assert answer.json() == {"status": 200}

    def welcomed() -> list:
        found = httpx.get(f"{make_run.emulator_url}/_emulator/messages", params={"to": user})
        return found.json()

    _wait_for(welcomed, "the welcome reply", make_run, timeout=60)
    (message,) = welcomed()
    assert message["via"] == "reply"
    assert message["messages"][0]["text"].startswith("Welcome, ")


def test_one_ctrl_c_stops_everything(make_run):
    children = psutil.Process(make_run.proc.pid).children(recursive=True)
    make_run.stop()
    assert "Stopping" in make_run.output
    assert not [child for child in children if child.is_running() and child.status() != "zombie"]
    assert "Traceback" not in make_run.output


def test_a_users_own_env_is_never_overwritten(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SECRET_KEY=mine\n")
    monkeypatch.setattr(devserver, "ROOT", tmp_path)
    devserver._ensure_local_env()
    assert (tmp_path / ".env").read_text() == "SECRET_KEY=mine\n"


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
