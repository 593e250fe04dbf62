from celery import shared_task

from audiences.imports import import_run, imports_requeue_stale
from audiences.models import ImportJob

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
