"""One lease-and-sweep for work a worker holds (docs/design.md §1.1).

A row is held by a worker while its status is `held` and its stamp column is younger than the
lease. The worker takes it by a conditional update (`claim`: only one caller wins), renews the
stamp while it works (`renew`: False once the row was given away), and a sweeper gives back rows
whose stamp stopped moving (`sweep`: each by its own conditional update that re-checks the
stamp, so a worker that renewed meanwhile keeps its row). What "giving back" means is the
caller's: put it back in the queue, or mark it failed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone


@dataclass(frozen=True)
class Lease:
    model: type[models.Model]
    held: str  # the status value while a worker holds the row
    stamp: str  # the column the worker renews: its heartbeat
    seconds: float | Callable[[], float]  # how long a stamp holds; a callable reads settings
    status_field: str = "status"

    def lease_seconds(self, seconds: float | None = None) -> float:
        if seconds is not None:
            return seconds
        return self.seconds() if callable(self.seconds) else self.seconds

    def held_rows(self, **match: Any) -> models.QuerySet:
        """Rows a worker holds, narrowed by `match` (a pk, a claim's token)."""
        return self.model._default_manager.filter(**{self.status_field: self.held}, **match)

    def claim(
        self, match: dict[str, Any], *, now: datetime.datetime | None = None, **changes: Any
    ) -> int:
        """Take the rows matching `match` (which should include their free status) for this
        worker: they become held, stamped now, with `changes`. Returns how many it took."""
        now = now or timezone.now()
        return self.model._default_manager.filter(**match).update(
            **{self.status_field: self.held, self.stamp: now}, **changes
        )

    def renew(
        self,
        pk: Any,
        *,
        token: dict[str, Any] | None = None,
        now: datetime.datetime | None = None,
        **changes: Any,
    ) -> bool:
        """The heartbeat, with any progress to write in the same update. `token` narrows it to
        this worker's claim (a claim counter, say); False means the lease was lost."""
        rows = self.held_rows(pk=pk, **(token or {}))
        return bool(rows.update(**{self.stamp: now or timezone.now()}, **changes))

    def expired(
        self, rows: models.QuerySet | None = None, *, seconds: float | None = None
    ) -> models.QuerySet:
        """Held rows whose stamp is older than the lease."""
        cutoff = timezone.now() - datetime.timedelta(seconds=self.lease_seconds(seconds))
        rows = rows if rows is not None else self.model._default_manager.all()
        return rows.filter(**{self.status_field: self.held, f"{self.stamp}__lt": cutoff})

    def sweep(
        self,
        release: dict[str, Any],
        *,
        rows: models.QuerySet | None = None,
        seconds: float | None = None,
        on_release: Callable[[models.Model], None] | None = None,
        limit: int | None = None,
    ) -> list[models.Model]:
        """Give back the rows whose lease ran out: each gets `release` by a conditional update
        that re-checks the status and the stamp it was read with, then `on_release(row)` (the
        row as read before the release). Returns the rows released."""
        stale: Iterable[models.Model] = self.expired(rows, seconds=seconds).order_by("pk")
        if limit is not None:
            stale = stale[:limit]
        released = []
        for row in stale:
            if not self.release(row, release):
                continue  # renewed or released by someone else meanwhile
            released.append(row)
            if on_release is not None:
                on_release(row)
        return released

    def release(self, row: models.Model, changes: dict[str, Any]) -> bool:
        """Give back one row as it was read: only if it is still held with the same stamp."""
        stamp = getattr(row, self.stamp)
        return bool(self.held_rows(pk=row.pk, **{self.stamp: stamp}).update(**changes))
