"""Scenarios that time the Django app on PostgreSQL run it in a child process with a database
of their own (on the server of BENCH_POSTGRES_URL, else DATABASE_URL, else 127.0.0.1), so they
never write a million rows into a working database nor share Django settings with each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

BENCH_FIELD_KEY = "YmVuY2gtb25seS1rZXktbm90LWZvci1yZWFsLWRhdGE="  # 32 bytes, Base64


def server_url() -> str:
    for var in ("BENCH_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(var, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def run_child(module: str, *, db_name: str, args: list[str], env: dict | None = None) -> dict:
    """Run `python -m module args` against `db_name`; its last stdout line is its figures."""
    child_env = {**os.environ, "DATABASE_URL": with_db(server_url(), db_name), **(env or {})}
    child_env.setdefault("DEBUG", "true")
    # The bench databases outlive a clone, and each clone generates its own key into var/: a
    # fixed key (for bench data only) keeps the seeded rows readable from any checkout.
    child_env.setdefault("FIELD_ENCRYPTION_KEY", BENCH_FIELD_KEY)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def django_in_child() -> None:
    """In the child: create its database if missing, set Django up and migrate."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linecampaigns.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
