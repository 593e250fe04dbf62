"""`make run`: migrate, make sure an Admin exists, then run web, worker+beat and the emulator.

Everything runs in the foreground; Ctrl-C stops all of it. The terminal shows warnings, errors
and, last, a banner with what a newcomer needs (`make info` shows it again); the web server's
and the worker's own lines go to var/log/.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var"))
LOGS = VAR / "log"
STATE = VAR / "devserver.json"  # what `make info` shows: URLs and the Admin's username
PY = sys.executable

# The checkout's own .env, written once so that `./manage.py` in any other terminal gets the
# same local settings as `make run` (keys are generated into var/ when DEBUG is true).
LOCAL_ENV = """\
# Written by `make run` for this checkout: ./manage.py, run from any terminal here, reads it.
# Local development only. For production start from .env.example (cp .env.example .env).
DEBUG=true
"""


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, stdout=subprocess.PIPE if capture else None, text=True
    )
    if result.returncode != 0:
        sys.exit(f"`manage.py {args[0]}` failed; its messages are above.")
    return result.stdout or ""


def _log_path(name: str) -> Path:
    """var/log/NAME.log, the previous run's kept as NAME.log.1."""
    LOGS.mkdir(parents=True, exist_ok=True)
    path = LOGS / f"{name}.log"
    if path.exists():
        path.replace(LOGS / f"{name}.log.1")
    return path


def _start(name: str, argv: list[str], log: Path | None = None) -> subprocess.Popen:
    """Start a child in its own session. With `log`, its output and its log records go to that
    file, and only warnings and errors (the LOG_FILE setting) and crashes reach the terminal."""
    print(f"  starting {name}: {' '.join(argv[1:4])} …", flush=True)
    if log is None:
        return subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    with log.open("a") as out:
        env = {**os.environ, "LOG_FILE": str(log)}
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, start_new_session=True)


def _ensure_local_env() -> None:
    path = ROOT / ".env"
    if not path.exists():
        path.write_text(LOCAL_ENV)
        print("Wrote .env (DEBUG=true): ./manage.py works from any terminal here.", flush=True)
    elif not re.search(r"^\s*DEBUG\s*=\s*(true|1|yes|on)\b", path.read_text(), re.I | re.M):
        print(
            "Note: .env does not set DEBUG=true, so ./manage.py in another terminal runs with "
            "production settings (SECRET_KEY required).",
            flush=True,
        )


def _emulator_credentials() -> dict[str, str]:
    """The Sandbox's token and secret, kept in var/ so the connection stays valid."""
    path = VAR / "emulator.json"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        creds = {"token": secrets.token_urlsafe(32), "secret": secrets.token_hex(16)}
        path.write_text(json.dumps(creds))
        path.chmod(0o600)
    return json.loads(path.read_text())


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 90.0) -> bool:
    """Poll `url` until it answers at all. An HTTP answer, not a bare TCP connect: on loopback a
    connect to a free ephemeral port can meet itself and look like a listener."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            httpx.get(url, timeout=2.0, trust_env=False)
            return True
        except httpx.HTTPError:
            time.sleep(0.25)
    return False


def _wait_for_line(log: Path, pattern: str, process: subprocess.Popen, timeout=90.0) -> bool:
    """Wait until a line of `log` matches `pattern` (the worker's "celery@host ready.")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if log.exists() and re.search(pattern, log.read_text(errors="replace"), re.M):
            return True
        time.sleep(0.25)
    return False


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _start_emulator(port: int, processes: list[subprocess.Popen]) -> dict[str, str]:
    creds = _emulator_credentials()
    process = _start(
        "LINE emulator",
        [
            PY,
            "-m",
            "lineapi.emulator",
            "--port",
            str(port),
            "--token",
            creds["token"],
            "--secret",
            creds["secret"],
            "--followers",
            "1000",
            "--latency-ms",
            "20",
            "--ledger",
            str(VAR / "emulator-ledger.jsonl"),  # the chat view survives a restart
        ],
    )
    processes.append(process)
    if not _wait_until_up(f"http://127.0.0.1:{port}/_emulator/health", process):
        sys.exit(f"The LINE emulator did not start on port {port} (EMULATOR_PORT=… to change).")
    return creds


def web_argv(port: int) -> list[str]:
    return [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]


def worker_argv(var_dir: Path, log_level: str = "INFO") -> list[str]:
    """One worker with beat embedded, on both queues: the whole background side. --quiet: no
    start-up banner (its log says when it is ready)."""
    schedule = str(var_dir / "celerybeat-schedule")
    return [PY, "-m", "celery", "--quiet", "-A", "linecampaigns", "worker", "-B",
            "-Q", "default,campaigns", "--concurrency", "2",
            "-l", log_level, "-s", schedule]  # fmt: skip


def _admin(ensure_admin_output: str) -> tuple[str, str | None]:
    """The Admin's username, and its password when ensure_admin has just created it."""
    created = re.search(r"Username: (\S+)  Password: (\S+)", ensure_admin_output)
    if created:
        return created[1], created[2]
    existing = re.search(r"Username: (\S+)", ensure_admin_output)
    return (existing[1] if existing else ""), None


def banner(state: dict, password: str | None = None, running: bool = True) -> str:
    url, admin = state["url"], state.get("admin") or "USERNAME"
    lines = [
        f"linecampaigns is running at {url}/"
        if running
        else f"linecampaigns is not running now; `make run` starts it at {url}/",
    ]
    if password:
        lines += [
            f"  Admin       Username: {admin}  Password: {password}",
            "              The password is shown only now: change it under your name > Change "
            "password.",
        ]
    else:
        lines.append(
            f"  Admin       {admin}, password as shown at first run "
            f"(forgotten: ./manage.py changepassword {admin})"
        )
    if state.get("emulator_url"):
        token = _emulator_credentials()["token"]
        lines += [
            f"  Sandbox     LINE emulator chat: {state['emulator_url']}/_emulator/ (every message "
            "a campaign delivers, as a LINE chat)",
            f"              channel access token: {token}",
            "              Try Campaigns > New campaign, audience 'Tokyo gold members', "
            "connection 'Sandbox'.",
        ]
    logs = LOGS.relative_to(ROOT) if LOGS.is_relative_to(ROOT) else LOGS
    lines += [
        f"  API docs    {url}/api/v1/docs  ·  Health: {url}/healthz",
        f"  Logs        {logs}/web.log and {logs}/worker.log (warnings and errors show here too)",
        "  Commands    ./manage.py … from any terminal in this folder; `make info` shows this "
        "again.",
    ]
    return "\n" + "\n".join(lines) + "\n"


def info() -> None:
    """`make info`: the banner again, from what the last `make run` left in var/."""
    if not STATE.exists():
        sys.exit("`make run` has not run in this checkout yet: start it with `make run`.")
    state = json.loads(STATE.read_text())
    try:
        httpx.get(f"{state['url']}/accounts/login/", timeout=2.0, trust_env=False)
        running = True
    except httpx.HTTPError:
        running = False
    print(banner(state, running=running), end="", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--info", action="store_true", help="print the banner of the last run")
    args = parser.parse_args()
    if args.info:
        return info()
    os.environ.setdefault("DEBUG", "true")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    processes: list[subprocess.Popen] = []
    try:
        _start_all(args.port, processes)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print(f"A process stopped ({LOGS} has its log); shutting the others down.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping …", flush=True)
    finally:
        _stop(processes)


def _start_all(port: int, processes: list[subprocess.Popen]) -> None:
    """Start everything, appending to `processes` as it goes so Ctrl-C at any point stops
    whatever already runs."""
    demo = os.environ.get("DEMO", "1") != "0"
    emulator_port = int(os.environ.get("EMULATOR_PORT", "8765"))

    if _port_in_use(port):
        sys.exit(f"Port {port} is taken, so the dashboard cannot start: make run PORT=8001.")
    if demo and _port_in_use(emulator_port):
        sys.exit(f"Port {emulator_port} is taken, so the LINE emulator cannot start: "
                 "make run EMULATOR_PORT=8766, or DEMO=0 to run without it.")  # fmt: skip
    _ensure_local_env()
    print("Preparing the database …", flush=True)
    _manage("migrate", "--no-input", "-v", "0")
    admin, password = _admin(_manage("ensure_admin", capture=True))
    url = f"http://127.0.0.1:{port}"
    state = {"url": url, "admin": admin, "emulator_url": None}
    if demo:
        creds = _start_emulator(emulator_port, processes)
        state["emulator_url"] = f"http://127.0.0.1:{emulator_port}"
        _manage(
            "seed_demo",
            f"--emulator-url={state['emulator_url']}",
            f"--token={creds['token']}",
            f"--secret={creds['secret']}",
        )
    web = _start("web", web_argv(port), log=_log_path("web"))
    processes.append(web)
    worker_log = _log_path("worker")
    worker = _start("worker", worker_argv(VAR), log=worker_log)
    processes.append(worker)
    if not _wait_until_up(f"{url}/accounts/login/", web):
        sys.exit(f"The dashboard did not start on port {port}; see the messages above.")
    if not _wait_for_line(worker_log, r"celery@\S+ ready\.$", worker):
        sys.exit(f"The worker did not start; see the messages above and {worker_log}.")
    STATE.write_text(json.dumps(state))
    print(banner(state, password) + "Press Ctrl-C to stop.", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(processes: list[subprocess.Popen]) -> None:
    """Each main process stops its own children (the worker its pool and beat); whatever is
    left after 10 s is killed."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
