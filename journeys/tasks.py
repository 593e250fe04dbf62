from celery import shared_task

from journeys import sending
from journeys.entry import RUN_STEP

BEAT_SCHEDULE = {
    "journeys-sweep": {"task": "journeys.sweep", "schedule": 10.0},
}


@shared_task(name=RUN_STEP)
def run_step(run_id: int) -> int:
    return sending.run_send(run_id)


@shared_task(name="journeys.sweep")
def sweep() -> dict:
    return sending.sends_sweep()
