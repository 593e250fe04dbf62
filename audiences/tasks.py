from celery import shared_task

from audiences.backfill import followers_backfill_run
from audiences.imports import import_run, imports_requeue_stale
from audiences.models import FollowerBackfill, ImportJob

BEAT_SCHEDULE: dict = {
    "audiences-requeue-stale-imports": {
        "task": "audiences.requeue_stale_imports",
        "schedule": 300.0,
    },
}


@shared_task(name="audiences.run_import", acks_late=True)
def run_import(job_id: int) -> None:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is not None:
        import_run(job=job)


@shared_task(name="audiences.requeue_stale_imports")
def requeue_stale_imports() -> int:
    return imports_requeue_stale()


@shared_task(name="audiences.backfill_followers", ignore_result=True, acks_late=False)
def backfill_followers(backfill_id: int) -> None:
    backfill = FollowerBackfill.objects.select_related("connection").filter(pk=backfill_id).first()
    if backfill is not None:
        followers_backfill_run(backfill=backfill)
