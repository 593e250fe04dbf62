"""The time zones people choose from, and the one display of a scheduled time.

The list is the IANA database's own list for choosing a zone, `zone.tab` (one or more zones per
country, by their canonical names), plus UTC, read from the `tzdata` package. Aliases ("Japan",
"US/Pacific", "Asia/Calcutta"), "Factory", "localtime", "posixrules" and `Etc/*` are not in it.
A browser may still report an alias (older Chrome says "Asia/Calcutta"): `canonical_zone` maps
it to the listed zone through the database's links.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import zoneinfo

from django.utils import timezone

COMMON = ("Asia/Tokyo", "Asia/Bangkok", "Asia/Taipei", "Asia/Jakarta", "UTC")


def _tzdata_lines(name: str) -> list[str]:
    text = importlib.resources.files("tzdata").joinpath("zoneinfo", name).read_text("utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def zone_names() -> frozenset[str]:
    available = zoneinfo.available_timezones()
    listed = {line.split("\t")[2] for line in _tzdata_lines("zone.tab")} | {"UTC"}
    return frozenset(listed & available)


@functools.cache
def _links() -> dict[str, str]:
    """Alias -> target, from the database's link lines (`L TARGET ALIAS`)."""
    parts = (line.split() for line in _tzdata_lines("tzdata.zi") if line.startswith("L "))
    return {alias: target for _, target, alias in parts}


def canonical_zone(name: str) -> str | None:
    """The listed zone for `name` (itself, or what it is an alias of), else None."""
    links = _links()
    for _ in range(3):  # an alias of an alias
        if name in zone_names():
            return name
        if name == "Etc/UTC":  # the zone that "UTC" (listed) and "Etc/Universal" link to
            return "UTC"
        if name not in links:
            return None
        name = links[name]
    return None


@functools.cache
def zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a select: the common zones first, then every other zone A-Z."""
    others = sorted(zone_names() - set(COMMON))
    return [
        ("Common", [(name, name) for name in COMMON]),
        ("Other time zones", [(name, name) for name in others]),
    ]


def current_zone() -> str:
    """The listed zone the request runs in (see UserTimezoneMiddleware), for a form's start."""
    return canonical_zone(timezone.get_current_timezone_name()) or "UTC"


def format_in_zone(moment: datetime.datetime | None, zone_name: str) -> str:
    """ "2026-12-04 20:40 Asia/Tokyo (11:40 UTC)": the time in the zone it was entered in, then
    in UTC (with the UTC date when it differs)."""
    if moment is None:
        return ""
    name = zone_name or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, name = datetime.UTC, "UTC"
    local, utc = moment.astimezone(zone), moment.astimezone(datetime.UTC)
    shown = f"{local:%Y-%m-%d %H:%M} {name}"
    if name == "UTC":
        return shown
    utc_text = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{shown} ({utc_text} UTC)"
