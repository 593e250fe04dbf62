from django.conf import settings
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from connections.models import Connection, FollowerBackfill, WebhookEvent


def connection_list() -> QuerySet[Connection]:
    return Connection.objects.all()


def webhook_url(connection: Connection, request: HttpRequest | None = None) -> str:
    """The URL to paste into the LINE Developers Console for this connection."""
    path = reverse("line_webhook", args=[connection.webhook_slug])
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def connection_recent_events(connection: Connection, limit: int = 20) -> list[WebhookEvent]:
    return list(connection.webhook_events.all()[:limit])


def connection_latest_backfill(connection: Connection) -> FollowerBackfill | None:
    return connection.backfills.first()


def connection_campaign_counts(connection: Connection) -> dict[str, int]:
    from campaigns.models import Campaign

    campaigns = Campaign.objects.filter(connection=connection)
    counts = campaigns.order_by().values_list("status").annotate(n=Count("id"))
    by_status = dict(counts.values_list("status", "n"))
    return {
        "total": sum(by_status.values()),
        "drafts": by_status.get(Campaign.Status.DRAFT, 0),
        "sending": by_status.get(Campaign.Status.SENDING, 0),
        "waiting": by_status.get(Campaign.Status.PAUSED, 0)
        + by_status.get(Campaign.Status.SCHEDULED, 0),
        "finished": sum(
            by_status.get(s, 0)
            for s in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED, Campaign.Status.EXPIRED)
        ),
    }
