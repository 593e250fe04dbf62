from datetime import datetime

from django import template

from campaigns import selectors
from campaigns.models import Campaign
from kit.timezones import format_in_zone
from lineapi import utf16_len

register = template.Library()


@register.filter
def utf16(value: object) -> int:
    """Length in UTF-16 code units, the unit LINE counts text limits in."""
    return utf16_len(str(value or ""))


@register.filter
def percent_of(part: int | None, whole: int | None) -> int:
    if not whole:
        return 0
    return min(100, round(100 * (part or 0) / whole))


REASONS = {
    "frequency_cap": "frequency-capped",
    "opted_out": "opted out",
    "unfollowed": "unfollowed (blocked the account)",
    "personalization": "missing attributes that have no default",
    "personalization_limit": "the template hit a personalization limit",
    "cancelled": "cancelled before sending",
}
STOPPED_CAUSES = {"cancelled": "cancelled", "expired": "expired"}


@register.filter
def reason_label(reason: str) -> str:
    return REASONS.get(reason, str(reason).replace("_", " "))


@register.filter
def in_zone(moment: datetime | None, zone_name: str) -> str:
    """A scheduled time as entered, UTC second: "2026-12-04 20:40 Asia/Tokyo (11:40 UTC)"."""
    return format_in_zone(moment, zone_name)


@register.filter
def not_sent_cause(status: str) -> str:
    """Why a campaign's recipients were not sent: its status says it once it stopped."""
    return STOPPED_CAUSES.get(status, "cancelled / expired")


@register.filter
def stopped_verb(status: str) -> str:
    return {"cancelled": "was cancelled", "expired": "expired"}.get(status, "finished")


@register.filter
def frequency_cap_label(campaign: Campaign) -> str:
    return selectors.frequency_cap_label(campaign)
