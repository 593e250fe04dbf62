from celery import shared_task

from campaigns.enqueue import QUEUE
from journeys import engine

BEAT_SCHEDULE = {
    "journeys-wake": {"task": "journeys.wake", "schedule": 2.0},
    # On the engine's queue, as the campaigns' sweeper: a sweep behind a backlog of run steps
    # on `default` would find a lost worker's reply after its token expired.
    "journeys-sweep": {"task": "journeys.sweep", "schedule": 10.0, "options": {"queue": QUEUE}},
}


@shared_task(name=engine.RUN_QUEUED)
def run_step(run_id: int) -> int:
    return engine.run_queued(run_id)


@shared_task(name=engine.RUN_CLAIMED)
def run_claimed(pairs: list[list[int]]) -> int:
    return engine.run_claimed(pairs)


@shared_task(name="journeys.wake")
def wake() -> int:
    return engine.runs_wake()


@shared_task(name="journeys.sweep")
def sweep() -> dict:
    return engine.runs_sweep()
