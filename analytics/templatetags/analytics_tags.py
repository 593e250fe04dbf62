from urllib.parse import urlencode

from django import template
from django.urls import reverse

from analytics.presentation import reason_label as _reason_label

register = template.Library()

HIDDEN = "fewer than 20 (hidden by LINE)"


@register.filter
def line_figure(value: int | None) -> str:
    """LINE returns null for figures under 20 (privacy); say so instead of showing 0."""
    return HIDDEN if value is None else f"{value:,}"


@register.filter
def reason_label(code: str) -> str:
    return _reason_label(code)


@register.simple_tag
def log_url(campaign_id: int, **filters) -> str:
    """The delivery log of a campaign filtered to `filters`; http_status None → 0 ("none")."""
    if "http_status" in filters and filters["http_status"] is None:
        filters["http_status"] = 0
    query = {k: v for k, v in filters.items() if v is not None}
    url = reverse("analytics_delivery_log", args=[campaign_id])
    return f"{url}?{urlencode(query)}" if query else url


@register.filter
def num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@register.filter
def urlencode_dict(query: dict) -> str:
    return urlencode(query)
