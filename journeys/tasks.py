from celery import shared_task

from campaigns.enqueue import QUEUE
from journeys import sending
from journeys.entry import RUN_STEP

BEAT_SCHEDULE = {
    # On the engine's queue, as the campaigns' sweeper: run steps queue on `default`, and a
    # sweep behind their backlog would find a lost worker's reply after its token expired.
    "journeys-sweep": {"task": "journeys.sweep", "schedule": 10.0, "options": {"queue": QUEUE}},
}


@shared_task(name=RUN_STEP)
def run_step(run_id: int) -> int:
    return sending.run_send(run_id)


@shared_task(name="journeys.sweep")
def sweep() -> dict:
    return sending.sends_sweep()
