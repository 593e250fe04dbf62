import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from connections import hooks
from connections.models import Connection, WebhookEvent


def connection_list() -> QuerySet[Connection]:
    return Connection.objects.all()


def connection_by_id_or_name(ref: int | str) -> Connection | None:
    """An API body's `connection`: its id (a number, or ASCII digits) or else its name."""
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        return Connection.objects.filter(pk=int(ref)).first()
    return Connection.objects.filter(name=ref).first()


def webhook_url(connection: Connection, request: HttpRequest | None = None) -> str:
    """The URL to paste into the LINE Developers Console for this connection."""
    path = reverse("line_webhook", args=[connection.webhook_slug])
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


# Names that never resolve on the public internet (RFC 6761, RFC 6762, common LAN suffixes).
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test")


def webhook_url_problem(url: str) -> str:
    """Why LINE could not deliver to `url` (it calls public HTTPS addresses only), or ""."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    problems = [] if parts.scheme == "https" else ["not HTTPS"]
    if address is not None and not address.is_global:
        problems.append(f"on a private address ({host})")
    elif address is None and (
        host == "localhost" or host.endswith(LOCAL_SUFFIXES) or "." not in host
    ):
        problems.append(f"on a host the internet cannot reach ({host or 'none'})")
    if not problems:
        return ""
    return (
        f"LINE delivers webhooks only to a public HTTPS URL, and this one is "
        f"{' and '.join(problems)}. Set PUBLIC_BASE_URL to the dashboard's public https:// "
        "address (see .env.example) and restart it; this page then shows the URL to paste."
    )


def connection_recent_events(connection: Connection, limit: int = 20) -> list[WebhookEvent]:
    return list(connection.webhook_events.all()[:limit])


def connection_panels(connection: Connection, request: HttpRequest) -> list[str]:
    """The cards the apps above add to the connection's page, rendered (docs/design.md §5.3)."""
    return [
        render_to_string(template, {"connection": connection, **context}, request=request)
        for template, context in hooks.responses(hooks.connection_detail_panels, connection)
    ]


def connection_delete_context(connection: Connection) -> dict:
    """What the apps above say about deleting the connection (campaigns: `counts`)."""
    context: dict = {}
    for answer in hooks.responses(hooks.connection_delete_context, connection):
        context.update(answer)
    return context
