"""journey_reply_latency: LINE events at 50 a second for 20 s (--quick: 8 s) through the real
webhook endpoint (gunicorn, as in production) into two active journeys, half the events each:
a follow journey (new friends: a personalized welcome) and a keyword journey ("coupon" → a
personalized coupon text). Every event comes from the emulator with a fresh reply token, as
LINE sends it; a Celery worker (prefork, queues default and campaigns) on PostgreSQL and Redis;
the emulator at 50 ms latency. A short warm-up runs first, unmeasured.

`reply_p95_ms` runs from the webhook POST received (the stored event's `received_at`) to the
message accepted by the emulator (its ledger's `received_at`); target <= 1,500 ms on 2 cores.
`answer_p95_ms` is the webhook's answer as LINE sees it (the emulator's POST, its connection
included); LINE wants it within 2 s. The baseline is the same load while no journey is active:
the webhook's answer and the event's processing only (to its `processed_at`), so `ratio_p95`
says what the journeys add. `cpu_ms_per_event` is the CPU the app's processes (web, worker,
PostgreSQL backends) spent per event: at 50 events/s two cores give 40 ms.

Worker processes: 8 (BENCH_JOURNEY_PROCESSES). The work is I/O bound per process: a follow
waits 50 ms for the profile and 50 ms for the reply, so 2 processes (docker-compose.yml's
worker) top out near 20 events/s whatever the CPU; 8 measured best of 2, 4 and 8.

The database is `linecampaigns_bench_journeys` on the server of BENCH_POSTGRES_URL, else
DATABASE_URL, else 127.0.0.1; Redis is BENCH_REDIS_URL (default redis://127.0.0.1:6379/12,
flushed at the start). BENCH_JOURNEY_RATE changes the rate (events a second).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import aiohttp
import httpx
import psutil

from bench.emulator import RunningEmulator, emulator, free_port
from bench.load import open_loop
from bench.postgres import BENCH_FIELD_KEY, django_in_child, run_child, server_url, with_db
from bench.registry import scenario
from bench.scenarios.campaign_push import workers

MODULE = "bench.scenarios.journey_reply_latency"
DB_NAME = "linecampaigns_bench_journeys"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
RATE = int(os.environ.get("BENCH_JOURNEY_RATE", "50"))  # events a second
LATENCY_MS = 50
TARGET_P95_MS = 1500
SECRET = "bench-secret"
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "3"))  # as docker-compose.yml runs it
WORKER_PROCESSES = int(os.environ.get("BENCH_JOURNEY_PROCESSES", "8"))
WORKER_QUEUES = "default,campaigns"
WARMUP_SECONDS = 2
FULL_WIDTH_COUPON = "\uff43\uff4f\uff55\uff50\uff4f\uff4e"  # NFKC makes it "coupon"
WELCOME = [{"type": "text", "text": "Welcome, {{ display_name | default: 'friend' }}!"}]
COUPON = [
    {
        "type": "text",
        "text": "{{ contact.display_name | default: 'Hi' }}, your coupon for "
        "“{{ event.text }}”: SPRING-{{ line_id | slice: 1, 6 | upcase }}",
    }
]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": with_db(server_url(), DB_NAME),
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "FIELD_ENCRYPTION_KEY": BENCH_FIELD_KEY,
    }


def _child(env: dict, *args: str) -> dict:
    figures = run_child(MODULE, db_name=DB_NAME, args=list(args), env=env)
    if "error" in figures:
        raise RuntimeError(f"{MODULE} {args[0]}: {figures['error']}")
    return figures


@contextmanager
def web(env: dict) -> Iterator[tuple[str, int]]:
    """The dashboard under gunicorn, as docker-compose.yml runs it; yields its base URL and
    the master's pid."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "linecampaigns.wsgi:application",
               "--bind", f"127.0.0.1:{port}", "--workers", str(WEB_WORKERS),
               "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)  # 503 without a beat: up all the same
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def line_id(phase: str, i: int) -> str:
    return "U" + hashlib.md5(f"{phase}-{i}".encode()).hexdigest()


def line_event(phase: str, i: int) -> dict:
    """Even: a new friend; odd: "coupon" typed (half of them in full-width letters)."""
    source = {"type": "user", "userId": line_id(phase, i)}
    if i % 2 == 0:
        return {"type": "follow", "source": source, "follow": {"isUnblocked": False}}
    text = "Coupon" if i % 4 == 1 else FULL_WIDTH_COUPON
    message = {"type": "text", "id": str(10**15 + i), "text": text, "quoteToken": f"q{i}"}
    return {"type": "message", "source": source, "message": message}


async def _fire(emu: RunningEmulator, hook: str, phase: str, seconds: float) -> list[float]:
    """The emulator posts each event to the webhook with a fresh reply token; returns the
    webhook's answer times (ms), as the emulator waited for them."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(emu.base_url, connector=connector, timeout=timeout) as http:

        async def send(i: int) -> float:
            started = time.perf_counter()
            body = {"url": hook, "events": [line_event(phase, i)]}
            async with http.post("/_emulator/webhook", json=body) as response:
                answer = await response.json()
            if response.status != 200 or answer.get("status") != 200:
                raise RuntimeError(f"the webhook answered {answer}")
            return (time.perf_counter() - started) * 1000

        return await open_loop(send, rate=RATE, seconds=seconds)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0],) * 3 if values else (float("nan"),) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[94], 1), round(cuts[98], 1)


class CpuMeter:
    """CPU seconds (user + system) of the app's processes, by pid: the web server and the
    worker, each with its children, and the PostgreSQL backends serving the bench database."""

    def __init__(self, web_pid: int, worker_pid: int, database_url: str) -> None:
        self.roots = {"web": web_pid, "worker": worker_pid}
        self.database_url = database_url

    @staticmethod
    def _tree(pid: int) -> dict[int, float]:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return {}
        used = {}
        for proc in procs:
            with suppress(psutil.Error):
                times = proc.cpu_times()
                used[proc.pid] = times.user + times.system
        return used

    def _backends(self) -> dict[int, float]:
        import psycopg

        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
        with psycopg.connect(with_db(self.database_url, "postgres"), autocommit=True) as conn:
            pids = [pid for (pid,) in conn.execute(query, [DB_NAME]).fetchall()]
        return {pid: t for backend in pids for pid, t in self._tree(backend).items()}

    def read(self) -> dict[str, dict[int, float]]:
        return {**{k: self._tree(pid) for k, pid in self.roots.items()}, "db": self._backends()}

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """Seconds per group between two reads; a process that ended meanwhile is left out (a
        backend of a child that has exited), one that started is counted whole."""
        return {
            group: sum(t - before[group].get(pid, 0.0) for pid, t in used.items())
            for group, used in after.items()
        }


def _phase(emu: RunningEmulator, env: dict, hook: str, phase: str, seconds: float, meter) -> dict:
    emu.reset()
    before = meter.read()
    answers = asyncio.run(_fire(emu, hook, phase, seconds))
    n = len(answers)
    collected = _child(env, "collect", "--phase", phase, "--events", str(n))
    after = meter.read()
    cpu_ms = {k: round(t * 1000 / n, 1) for k, t in CpuMeter.spent(before, after).items()}
    ledger = httpx.get(f"{emu.base_url}/_emulator/messages", timeout=30).json()
    accepted: dict[str, dict] = {}
    for entry in ledger:
        accepted.setdefault(entry["to"], entry)
    return {
        "n": n,
        "answers": answers,
        "events": collected["events"],
        "accepted": accepted,
        "complete": collected["complete"],
        "cpu_ms": cpu_ms,
    }


@scenario("journey_reply_latency")
def journey_reply_latency(quick: bool) -> dict:
    seconds = 8 if quick else 20
    env = _env()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    flags = ("--latency-ms", str(LATENCY_MS), "--followers", "0", "--secret", SECRET)
    with emulator(*flags) as emu:
        seeded = _child(env, "seed", "--base-url", emu.base_url, "--token", emu.token)
        with (
            web(env) as (base, web_pid),
            workers(env, WORKER_PROCESSES, queues=WORKER_QUEUES) as worker,
        ):
            hook = f"{base}/webhooks/line/{seeded['slug']}/"
            meter = CpuMeter(web_pid, worker.pid, env["DATABASE_URL"])
            # Every web and worker process imports, connects and warms its caches first.
            _phase(emu, env, hook, "warmup", WARMUP_SECONDS, meter)
            baseline = _phase(emu, env, hook, "baseline", seconds, meter)
            _child(env, "activate")
            journey = _phase(emu, env, hook, "journey", seconds, meter)
    return _figures(baseline, journey)


def _figures(baseline: dict, journey: dict) -> dict:
    base_ms = [
        (processed - received) * 1000
        for received, processed, _status in baseline["events"].values()
        if processed is not None
    ]
    reply_ms, via = [], Counter()
    for to, (received, _processed, _status) in journey["events"].items():
        entry = journey["accepted"].get(to)
        if entry is not None:
            reply_ms.append((entry["received_at"] - received) * 1000)
            via[entry["via"]] += 1
    p50, p95, p99 = _percentiles(reply_ms)
    b50, b95, _ = _percentiles(base_ms)
    a50, a95, _ = _percentiles(journey["answers"])
    cpu, base_cpu = journey["cpu_ms"], baseline["cpu_ms"]
    figures = {
        "events": journey["n"],
        "events_per_second": RATE,
        "reply_p50_ms": p50,
        "reply_p95_ms": p95,
        "reply_p99_ms": p99,
        "reply_max_ms": round(max(reply_ms, default=float("nan")), 1),
        "replied": via["reply"],
        "pushed": via["push"],
        "not_sent": journey["n"] - len(reply_ms),
        "answer_p50_ms": a50,
        "answer_p95_ms": a95,
        "answer_max_ms": round(max(journey["answers"]), 1),
        "baseline_p50_ms": b50,
        "baseline_p95_ms": b95,
        "baseline_answer_p95_ms": _percentiles(baseline["answers"])[1],
        "ratio_p95": round(p95 / b95, 2) if b95 else None,
        # CPU of the app's processes per event; the machine has cpu_count * 1000 / RATE to spend.
        "cpu_ms_per_event": round(sum(cpu.values()), 1),
        "cpu_ms_worker": cpu["worker"],
        "cpu_ms_web": cpu["web"],
        "cpu_ms_db": cpu["db"],
        "baseline_cpu_ms_per_event": round(sum(base_cpu.values()), 1),
        "worker_processes": WORKER_PROCESSES,
        "target_met": p95 <= TARGET_P95_MS,
        "complete": baseline["complete"] and journey["complete"],
    }
    budget = (os.cpu_count() or 1) * 1000 / RATE
    print(
        f"   {journey['n']:,} events at {RATE}/s: webhook → reply p50 {p50:,.0f} ms, "
        f"p95 {p95:,.0f} ms, p99 {p99:,.0f} ms (target p95 <= {TARGET_P95_MS:,}); "
        f"{via['reply']} replied, {via['push']} pushed, {figures['not_sent']} not sent; "
        f"webhook answer p95 {a95:,.0f} ms; baseline (no journey) p95 {b95:,.0f} ms, "
        f"ratio {figures['ratio_p95']}\n"
        f"   app CPU {figures['cpu_ms_per_event']} ms/event (worker {cpu['worker']}, web "
        f"{cpu['web']}, PostgreSQL {cpu['db']}; baseline "
        f"{figures['baseline_cpu_ms_per_event']}) of {budget:.0f} ms/event the machine's "
        f"{os.cpu_count()} cores give at {RATE}/s, {WORKER_PROCESSES} worker processes",
        flush=True,
    )
    return figures


# The child process: Django on the bench database ------------------------------------------


def child_seed(base_url: str, token: str) -> dict:
    """An empty database but for the connection and the two journeys, as drafts."""
    django_in_child()
    from django.db import connection as db

    from connections.models import Connection
    from journeys.services import journey_create

    with db.cursor() as cursor:
        cursor.execute(
            "TRUNCATE journeys_journey, connections_webhookevent, audiences_contact, "
            "connections_connection CASCADE"
        )
    connection = Connection.objects.create(
        name="bench",
        channel_access_token=token,
        channel_secret=SECRET,
        api_base_url=base_url,
        status=Connection.Status.ACTIVE,
    )
    common = {"user": None, "connection": connection}
    journey_create(
        name="Welcome",
        trigger={"type": "follow", "when": "new"},
        steps=[{"type": "send", "messages": WELCOME}],
        **common,
    )
    journey_create(
        name="Coupon",
        trigger={"type": "keyword", "keywords": ["coupon"]},
        entry="every_time",
        steps=[{"type": "send", "messages": COUPON}],
        **common,
    )
    return {"slug": connection.webhook_slug}


def child_activate() -> dict:
    django_in_child()
    from journeys.models import Journey
    from journeys.services import journey_activate

    for journey in Journey.objects.filter(status=Journey.Status.DRAFT):
        journey_activate(journey=journey, user=None)
    return {"active": Journey.objects.filter(status=Journey.Status.ACTIVE).count()}


def child_collect(phase: str, n: int) -> dict:
    """Waits (up to 2 minutes) until the phase's events are processed and their runs final;
    returns each event's received_at and processed_at, and the sends by (via, status)."""
    django_in_child()
    from connections.models import WebhookEvent
    from journeys.models import JourneyRun, JourneySend

    ids = [line_id(phase, i) for i in range(n)]
    events = WebhookEvent.objects.filter(source_id__in=ids)
    unfinished = (WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING)
    deadline = time.monotonic() + 120
    while True:
        complete = (
            events.count() == n
            and not events.filter(status__in=unfinished).exists()
            and not JourneyRun.objects.filter(line_id__in=ids, status__in=JourneyRun.OPEN).exists()
        )
        if complete or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    sends = Counter(
        f"{via or 'none'}:{status}"
        for via, status in JourneySend.objects.filter(line_id__in=ids).values_list("via", "status")
    )
    return {
        "complete": complete,
        "events": {
            e.source_id: [
                e.received_at.timestamp(),
                e.processed_at.timestamp() if e.processed_at else None,
                e.status,
            ]
            for e in events
        },
        "sends": dict(sends),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("command", choices=["seed", "activate", "collect"])
    parser.add_argument("--base-url")
    parser.add_argument("--token")
    parser.add_argument("--phase")
    parser.add_argument("--events", type=int)
    args = parser.parse_args(argv)
    if args.command == "seed":
        out = child_seed(args.base_url, args.token)
    elif args.command == "activate":
        out = child_activate()
    else:
        out = child_collect(args.phase, args.events)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
