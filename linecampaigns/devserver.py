"""`make run`: migrate, make sure an Admin exists, then run web, worker+beat and the emulator.

Everything runs in the foreground; Ctrl-C stops all of it.
"""

import argparse
import json
import os
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
PY = sys.executable


def _manage(*args: str) -> None:
    if subprocess.run([PY, "manage.py", *args], cwd=ROOT).returncode != 0:
        sys.exit(f"`manage.py {args[0]}` failed; its messages are above.")


def _start(name: str, argv: list[str]) -> subprocess.Popen:
    print(f"  starting {name}: {' '.join(argv[1:4])} …", flush=True)
    return subprocess.Popen(argv, cwd=ROOT, start_new_session=True)


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
    """One worker with beat embedded, on both queues: the whole background side."""
    schedule = str(var_dir / "celerybeat-schedule")
    return [PY, "-m", "celery", "-A", "linecampaigns", "worker", "-B", "-Q", "default,campaigns",
            "--concurrency", "2", "-l", log_level, "-s", schedule]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    os.environ.setdefault("DEBUG", "true")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    processes: list[subprocess.Popen] = []
    try:
        _start_all(args.port, processes)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("A process stopped; shutting the others down.", file=sys.stderr)
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
    print("Preparing the database …", flush=True)
    _manage("migrate", "--no-input", "-v", "0")
    _manage("ensure_admin")
    if demo:
        creds = _start_emulator(emulator_port, processes)
        _manage(
            "seed_demo",
            f"--emulator-url=http://127.0.0.1:{emulator_port}",
            f"--token={creds['token']}",
            f"--secret={creds['secret']}",
        )
    web = _start("web", web_argv(port))
    processes.append(web)
    processes.append(_start("worker", worker_argv(VAR)))
    if not _wait_until_up(f"http://127.0.0.1:{port}/healthz", web):
        sys.exit(f"The dashboard did not start on port {port}; see the messages above.")
    url = f"http://127.0.0.1:{port}"
    sandbox = (
        f"Sandbox: the LINE emulator runs at http://127.0.0.1:{emulator_port}/_emulator/ and "
        "shows every message a campaign delivers, as a LINE chat.\n"
        "Start with Campaigns > New campaign, audience 'Tokyo gold members', connection "
        "'Sandbox'.\n"
        if demo
        else ""
    )
    print(
        f"\nlinecampaigns is running at {url}/\n"
        "Log in with the Admin printed above (or your own account).\n"
        f"{sandbox}"
        f"Health: {url}/healthz  ·  API docs: {url}/api/v1/docs  ·  Press Ctrl-C to stop.\n",
        flush=True,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
