"""What else counts toward the global frequency cap (docs/design.md §5.3): the apps above
campaigns register the messages they send (journeys: marketing sends), and the snapshot and
the review count them beside campaign deliveries. Campaigns imports none of them."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.db.models import QuerySet

# A source returns, for `since`, a queryset of one column `n`: the messages sent since then
# to the contact OuterRef("pk"), for use as a subquery.
RecentSends = Callable[[datetime.datetime], QuerySet]
_sources: list[RecentSends] = []


def register_recent_sends(source: RecentSends) -> None:
    if source not in _sources:
        _sources.append(source)


def recent_sends_sources() -> list[RecentSends]:
    return list(_sources)
