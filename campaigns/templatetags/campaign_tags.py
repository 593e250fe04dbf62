from django import template

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
    "missing_attribute": (
        "missing attributes that have no default (counted as Failed; nothing is sent to them)"
    ),
    "cancelled": "cancelled before sending",
}


@register.filter
def reason_label(reason: str) -> str:
    return REASONS.get(reason, str(reason).replace("_", " "))
