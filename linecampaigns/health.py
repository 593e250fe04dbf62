"""Liveness checks behind /healthz: database, broker and a worker heartbeat."""

import time

from celery.signals import worker_ready
from django.core.cache import cache
from django.db import connection

from kit.cache import cache_set

HEARTBEAT_KEY = "linecampaigns:worker-heartbeat"
HEARTBEAT_MAX_AGE_S = 60


def heartbeat_record() -> None:
    cache_set(HEARTBEAT_KEY, time.time(), HEARTBEAT_MAX_AGE_S * 10)


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    heartbeat_record()


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


def check_broker() -> str:
    from linecampaigns.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


def check_worker() -> str:
    try:
        last = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    if last is None:
        return "down: no heartbeat from any worker"
    age = time.time() - float(last)
    if age > HEARTBEAT_MAX_AGE_S:
        return f"down: last heartbeat {int(age)} s ago"
    return "ok"


def health_report() -> dict[str, str]:
    return {"database": check_database(), "broker": check_broker(), "worker": check_worker()}
