import importlib
import os

from celery import Celery
from celery.signals import task_prerun
from kombu import Exchange, Queue

from linecampaigns.broker import use_atomic_filesystem_transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linecampaigns.settings")
use_atomic_filesystem_transport()

app = Celery("linecampaigns")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_default_queue="default",
    # Each queue its own routing key: with a shared key a message would reach both queues.
    task_queues=(
        Queue("default", Exchange("default", type="direct"), routing_key="default"),
        Queue("campaigns", Exchange("campaigns", type="direct"), routing_key="campaigns"),
    ),
    task_default_exchange="default",
    task_default_routing_key="default",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "worker-heartbeat": {"task": "linecampaigns.heartbeat", "schedule": 15.0},
    },
)
app.autodiscover_tasks()

SCHEDULED_APPS = ("connections", "audiences", "campaigns", "journeys", "analytics")


@app.on_after_finalize.connect
def _add_app_schedules(sender: Celery, **_: object) -> None:
    """Each app declares its periodic tasks as BEAT_SCHEDULE in its tasks.py."""
    for name in SCHEDULED_APPS:
        module = importlib.import_module(f"{name}.tasks")
        sender.conf.beat_schedule.update(getattr(module, "BEAT_SCHEDULE", {}))


@task_prerun.connect
def _check_db_connections(task=None, **_: object) -> None:
    """Workers reuse database connections between tasks (CELERY_DB_REUSE_MAX); as Django does
    per request, drop one that is broken or older than CONN_MAX_AGE before the task runs."""
    if task is not None and not getattr(task.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()
