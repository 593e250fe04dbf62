from celery import shared_task

from analytics import services

# Merged into the celery app's beat schedule by the project owner.
BEAT_SCHEDULE = {
    "analytics-sync-line-statistics": {
        "task": "analytics.sync_line_statistics",
        "schedule": 300.0,
    },
    "analytics-materialize-reports": {
        "task": "analytics.materialize_reports",
        "schedule": 60.0,
    },
}


@shared_task(name="analytics.sync_line_statistics")
def sync_line_statistics() -> int:
    return services.line_statistics_sync()


@shared_task(name="analytics.materialize_reports")
def materialize_reports() -> int:
    return services.campaign_reports_materialize_due()
