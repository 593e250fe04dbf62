"""campaign_push: a 100,000-recipient personalized campaign (--quick: 10,000) end to end on
PostgreSQL and Redis: snapshot, render, send, record, with real Celery workers (prefork, 2
processes) against the emulator at 50 ms latency and LINE's default push rate (2,000 req/s).
Targets: >= 1,000 messages/s and >= 0.6 of the raw aiohttp ceiling measured against the same
emulator in the same run; worker peak RSS <= 250 MB.

The database is `linecampaigns_bench_campaigns` on the server of BENCH_POSTGRES_URL, else
DATABASE_URL, else 127.0.0.1; Redis is BENCH_REDIS_URL (default redis://127.0.0.1:6379/12,
flushed at the start). `messages_per_second` counts from the launch to the campaign's completion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psutil

from bench.emulator import RunningEmulator, emulator
from bench.postgres import server_url, with_db
from bench.registry import scenario

DB_NAME = "linecampaigns_bench_campaigns"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LATENCY_MS = 50
WORKER_PROCESSES = int(os.environ.get("BENCH_PUSH_PROCESSES", "2"))
CEILING_SECONDS = 4.0
PERSONALIZED = [{"type": "text", "text": 'Hi {{ first_name | default: "there" }}, spring sale!'}]
SAME_FOR_ALL = [{"type": "text", "text": "Spring sale: 20% off everything this week."}]


def _env() -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {**os.environ}
    env.update(
        DATABASE_URL=with_db(server_url(), DB_NAME),
        REDIS_URL=REDIS_URL,
        CELERY_BROKER_URL=REDIS_URL,
        DEBUG="true",
        LOG_LEVEL="WARNING",
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    env.setdefault("FIELD_ENCRYPTION_KEY", Fernet.generate_key().decode())
    return env


def _child(env: dict, *args: str, timeout: float = 3600) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.scenarios.campaign_push", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


class RssWatch:
    """Samples every process of the worker tree; keeps the largest single-process RSS."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for proc in procs:
                with suppress(psutil.Error):
                    self.peak = max(self.peak, proc.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


@contextmanager
def workers(
    env: dict, processes: int = WORKER_PROCESSES, queues: str = "campaigns"
) -> Iterator[subprocess.Popen]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "linecampaigns",
        "worker",
        "-Q",
        queues,
        "--pool",
        "prefork",
        "--concurrency",
        str(processes),
        "-n",
        f"bench-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _ceiling(emu: RunningEmulator) -> float:
    from bench.scenarios.client_ceiling import run_aiohttp

    best = 0.0
    for _ in range(2):
        best = max(best, asyncio.run(run_aiohttp(emu, CEILING_SECONDS, {})).rps)
        emu.reset()
        time.sleep(1.0)  # let the emulator's rate bucket refill
    return best


def run_campaign(
    recipients: int, messages: list[dict], *, processes: int = WORKER_PROCESSES
) -> dict:
    """Seed, start the emulator and the workers, launch, wait; returns the figures."""
    env = _env()
    _flush_redis()
    with emulator("--latency-ms", str(LATENCY_MS), "--followers", "0") as emu:
        seeded = _child(
            env, "seed", "--recipients", str(recipients), "--base-url", emu.base_url,
            "--token", emu.token, "--messages", json.dumps(messages),
        )  # fmt: skip
        ceiling = _ceiling(emu) if messages is PERSONALIZED else None
        emu.reset()
        with workers(env, processes) as worker:
            time.sleep(3)  # the worker boots (Django, pool) before the clock starts
            watch = RssWatch(worker.pid)
            try:
                result = _child(env, "launch", "--campaign", str(seeded["campaign"]))
            finally:
                rss = watch.stop()
        stats = emu.stats()
    result.update(
        ceiling_rps=round(ceiling, 1) if ceiling else None,
        worker_peak_rss_mb=rss,
        emulator_accepted_recipients=stats["accepted_recipients"],
        emulator_duplicates=stats["duplicate_retries"],
        emulator_rate_limited=stats["rate_limited"],
    )
    return result


@scenario("campaign_push")
def campaign_push(quick: bool) -> dict:
    recipients = 10_000 if quick else 100_000
    r = run_campaign(recipients, PERSONALIZED)
    mps = recipients / r["seconds"]
    figures = {
        "recipients": recipients,
        "messages_per_second": round(mps, 1),
        "ceiling_ratio": round(mps / r["ceiling_rps"], 3) if r["ceiling_rps"] else None,
        "worker_peak_rss_mb": r["worker_peak_rss_mb"],
        "ceiling_rps": r["ceiling_rps"],
        "seconds": r["seconds"],
        "snapshot_seconds": r["snapshot_seconds"],
        "sent": r["sent"],
        "failed": r["failed"],
        "rate_limited_429": r["emulator_rate_limited"],
        "ledger_matches": r["emulator_accepted_recipients"] == r["sent"] == recipients,
    }
    print(
        f"   {recipients:,} personalized pushes in {r['seconds']:.1f} s: {mps:,.0f} msg/s "
        f"({figures['ceiling_ratio']} of the aiohttp ceiling {r['ceiling_rps']:,.0f} req/s), "
        f"snapshot {r['snapshot_seconds']:.1f} s, worker peak RSS {r['worker_peak_rss_mb']} MB",
        flush=True,
    )
    return figures


# The child process: Django on the bench database ------------------------------------------


def _django() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linecampaigns.settings")
    import django

    django.setup()


def _seed_contacts(n: int) -> None:
    """n following contacts with a first name, written by one INSERT … SELECT."""
    from django.db import connection

    from audiences.models import Contact

    template = Contact(line_id="U", attributes={}, source=Contact.Source.IMPORT)
    template.follow_status = Contact.FollowStatus.FOLLOWING
    now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    columns, values, params = [], [], []
    for field in Contact._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name == "line_id":
            values.append("'U' || md5('bench-' || i::text)")
        elif field.name == "attributes":
            values.append("jsonb_build_object('first_name', 'Name' || i::text)")
        elif field.name == "display_name":
            values.append("'Person ' || i::text")
        elif field.name in ("created_at", "updated_at"):
            values.append("%s")
            params.append(now)
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, False), connection))
    with connection.cursor() as cursor:
        # The bench's own database: its previous run used another encryption key.
        cursor.execute(
            "TRUNCATE audiences_contact, campaigns_campaign, connections_connection CASCADE"
        )
        cursor.execute(
            f"INSERT INTO audiences_contact ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS i",
            [*params, n],
        )
        cursor.execute("VACUUM ANALYZE audiences_contact")


def child_seed(recipients: int, base_url: str, token: str, messages: list[dict]) -> dict:
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from campaigns.models import Campaign
    from campaigns.services import campaign_create
    from connections.models import Connection

    _seed_contacts(recipients)
    connection = Connection.objects.create(
        name="bench",
        channel_access_token=token,
        channel_secret="bench-secret",
        api_base_url=base_url,
        status=Connection.Status.ACTIVE,
    )
    campaign = campaign_create(
        user=None,
        name="bench",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=messages,
        frequency_cap_enabled=False,
    )
    return {"campaign": campaign.pk}


def child_launch(campaign_id: int) -> dict:
    _django()
    from campaigns.models import Campaign
    from campaigns.services import campaign_launch

    campaign = Campaign.objects.get(pk=campaign_id)
    started = time.perf_counter()
    campaign_launch(campaign=campaign, user=None)
    while True:
        campaign.refresh_from_db()
        if campaign.status not in (Campaign.Status.SENDING, Campaign.Status.SCHEDULED):
            break
        if time.perf_counter() - started > 1800:
            raise RuntimeError("the campaign did not finish in 30 minutes")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if campaign.status != Campaign.Status.COMPLETED:
        raise RuntimeError(f"campaign ended {campaign.status}: {campaign.pause_reason}")
    return {
        "seconds": round(seconds, 2),
        "snapshot_seconds": round((campaign.started_at - campaign.launched_at).total_seconds(), 2),
        "sent": campaign.sent,
        "failed": campaign.failed,
        "send_mode": campaign.send_mode,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scenarios.campaign_push")
    parser.add_argument("command", choices=["seed", "launch"])
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--base-url")
    parser.add_argument("--token")
    parser.add_argument("--messages")
    parser.add_argument("--campaign", type=int)
    args = parser.parse_args(argv)
    if args.command == "seed":
        out = child_seed(args.recipients, args.base_url, args.token, json.loads(args.messages))
    else:
        out = child_launch(args.campaign)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
