from celery import shared_task

from connections import services

# Merged into the celery app's beat schedule by the project owner.
BEAT_SCHEDULE = {
    "connections-refresh-quotas": {"task": "connections.refresh_quotas", "schedule": 15 * 60.0},
    "connections-sweep-webhook-events": {
        "task": "connections.sweep_webhook_events",
        "schedule": 60.0,
    },
    "connections-prune-webhook-events": {
        "task": "connections.prune_webhook_events",
        "schedule": 24 * 3600.0,
    },
}


@shared_task(name="connections.process_webhook_events", ignore_result=True)
def process_webhook_events(event_ids: list[int]) -> None:
    services.webhook_events_process(event_ids=event_ids)


@shared_task(name="connections.sweep_webhook_events", ignore_result=True)
def sweep_webhook_events() -> None:
    services.webhook_events_sweep()


@shared_task(name="connections.prune_webhook_events", ignore_result=True)
def prune_webhook_events() -> None:
    services.webhook_events_prune()


@shared_task(name="connections.refresh_quotas", ignore_result=True)
def refresh_quotas() -> None:
    services.connections_refresh_quotas()
