"""What campaigns does when the apps below ask: receivers of connections' and audiences'
signals, connected in `CampaignsConfig.ready()` (docs/design.md §5.3)."""

from django.db.models import Count

from audiences.models import Contact
from campaigns.models import Campaign, Delivery
from connections.models import Connection
from connections.services import ConnectionInUseError


def connection_campaign_counts(connection: Connection) -> dict[str, int]:
    campaigns = Campaign.objects.filter(connection=connection)
    counts = campaigns.order_by().values_list("status").annotate(n=Count("id"))
    by_status = dict(counts.values_list("status", "n"))
    return {
        "total": sum(by_status.values()),
        "drafts": by_status.get(Campaign.Status.DRAFT, 0),
        "sending": by_status.get(Campaign.Status.SENDING, 0),
        "waiting": by_status.get(Campaign.Status.PAUSED, 0)
        + by_status.get(Campaign.Status.SCHEDULED, 0),
        "finished": sum(by_status.get(s, 0) for s in Campaign.FINISHED),
    }


def connection_delete_context(sender: type, *, connection: Connection, **kwargs) -> dict:
    return {"counts": connection_campaign_counts(connection)}


def connection_deleting(sender: type, *, connection: Connection, **kwargs) -> dict:
    """Refused while a campaign using it is sending, paused or scheduled; its drafts go with
    it; finished campaigns keep it (Campaign.connection is PROTECT), renamed "… (deleted)"."""
    campaigns = Campaign.objects.select_for_update().filter(connection=connection)
    sending = campaigns.filter(status=Campaign.Status.SENDING).count()
    if sending:
        raise ConnectionInUseError(
            f"{connection.name} cannot be deleted while {_plural(sending, 'campaign')} "
            "using it is sending. Pause or cancel it first."
        )
    waiting = campaigns.filter(
        status__in=(Campaign.Status.PAUSED, Campaign.Status.SCHEDULED)
    ).count()
    if waiting:
        raise ConnectionInUseError(
            f"{connection.name} cannot be deleted while {_plural(waiting, 'campaign')} using "
            "it is paused or scheduled and would send through it later. Cancel it first."
        )
    drafts = campaigns.filter(status=Campaign.Status.DRAFT)
    draft_count = drafts.count()
    drafts.delete()
    return {"draft_campaigns_deleted": draft_count, "finished_campaigns_kept": campaigns.count()}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def contact_merging(sender: type, *, primary: Contact, anonymous: Contact, **kwargs) -> None:
    """Deliveries move to the identified contact; where both received the same campaign, the
    anonymous row keeps its line id and loses its link (Delivery.contact is SET_NULL)."""
    Delivery.objects.filter(contact=anonymous).exclude(
        campaign_id__in=Delivery.objects.filter(contact=primary).values("campaign_id")
    ).update(contact=primary)


def contact_detail_context(sender: type, *, contact: Contact, **kwargs) -> dict:
    deliveries = (
        Delivery.objects.filter(contact=contact).select_related("campaign").order_by("-created_at")
    )
    return {"deliveries": list(deliveries[:50])}
