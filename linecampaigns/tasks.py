from celery import shared_task

from linecampaigns.health import heartbeat_record


@shared_task(name="linecampaigns.heartbeat", ignore_result=True)
def heartbeat() -> None:
    heartbeat_record()
