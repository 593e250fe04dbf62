"""Journey reads: lists, the per-journey report, the run log and sends per day. Every figure
is counted from the run and send rows (the ledger); Attempted = Sent + Failed as for campaigns."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import figures_from_counts
from journeys.definition import summary
from journeys.entry import SKIP_REASONS
from journeys.models import Journey, JourneyRun, JourneySend


def journeys_list(*, status: str = "") -> QuerySet[Journey]:
    qs = Journey.objects.select_related("connection", "current_version").annotate(
        runs_total=Count("runs", distinct=True),
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-updated_at", "-id")


def trigger_summary(journey: Journey) -> str:
    return summary(journey.trigger if isinstance(journey.trigger, dict) else {})


def skip_label(reason: str) -> str:
    return SKIP_REASONS.get(reason, reason.replace("_", " ").capitalize())


def journey_report(journey: Journey) -> dict:
    """Triggered, entered, skipped by reason, sent (replied free / pushed), failed by reason,
    and Attempted / Failed / Successfully sent per send step."""
    runs = dict(
        JourneyRun.objects.filter(journey=journey)
        .values_list("status")
        .annotate(n=Count("*"))
        .order_by()
    )
    triggered = sum(runs.values())
    skipped_runs = (
        JourneyRun.objects.filter(journey=journey, status=JourneyRun.Status.SKIPPED)
        .values_list("reason")
        .annotate(n=Count("*"))
        .order_by()
    )
    sends = list(
        JourneySend.objects.filter(journey=journey)
        .values_list("step", "status", "via", "reason")
        .annotate(n=Count("*"))
        .order_by()
    )
    skipped: dict[str, int] = {}
    for reason, n in skipped_runs:
        skipped[reason] = skipped.get(reason, 0) + n
    by_step: dict[int, dict[str, int]] = {}
    failed_reasons: dict[str, int] = {}
    via = {"reply": 0, "push": 0}
    for step, status, how, reason, n in sends:
        counts = by_step.setdefault(step, {})
        counts[status] = counts.get(status, 0) + n
        if status == JourneySend.Status.SENT and how in via:
            counts[how] = counts.get(how, 0) + n
            via[how] += n
        if status == JourneySend.Status.FAILED:
            failed_reasons[reason or "unknown"] = failed_reasons.get(reason or "unknown", 0) + n
        if status == JourneySend.Status.SKIPPED:
            skipped[reason] = skipped.get(reason, 0) + n
    steps = []
    for step in sorted(by_step):
        counts = by_step[step]
        figures = figures_from_counts(counts)
        steps.append(
            {
                "step": step,
                **figures,
                "pending": counts.get("pending", 0) + counts.get("sending", 0),
                "replied": counts.get("reply", 0),
                "pushed": counts.get("push", 0),
            }
        )
    totals = figures_from_counts(
        {s: sum(c.get(s, 0) for c in by_step.values()) for s in ("sent", "failed", "skipped")}
    )
    return {
        "triggered": triggered,
        "entered": triggered - runs.get(JourneyRun.Status.SKIPPED, 0),
        "in_progress": runs.get(JourneyRun.Status.QUEUED, 0),
        "skipped": sum(n for _, n in skipped_runs),
        "skipped_by_reason": [
            {"reason": r, "label": skip_label(r), "count": n}
            for r, n in sorted(skipped.items(), key=lambda kv: -kv[1])
        ],
        "attempted": totals["attempted"],
        "sent": totals["sent"],
        "replied": via["reply"],
        "pushed": via["push"],
        "failed": totals["failed"],
        "failed_by_reason": [
            {"reason": r, "count": n}
            for r, n in sorted(failed_reasons.items(), key=lambda kv: -kv[1])
        ],
        "steps": steps,
    }


def journey_runs(*, journey: Journey, status: str = "", q: str = "") -> QuerySet[JourneyRun]:
    """The run log, newest first, with each run's sends."""
    runs = JourneyRun.objects.filter(journey=journey).prefetch_related("sends")
    if status:
        runs = runs.filter(status=status)
    if q:
        runs = runs.filter(Q(line_id__icontains=q) | Q(contact__display_name__icontains=q))
    return runs.order_by("-created_at", "-id")


def run_outcome(run: JourneyRun) -> dict:
    """What `GET /api/v1/journeys/runs/{id}` says: status, the API that carried the first
    send, LINE's request id and the error, if any."""
    sends = sorted(run.sends.all(), key=lambda s: s.step)
    first = sends[0] if sends else None
    failed = next((s for s in sends if s.status == JourneySend.Status.FAILED), None)
    return {
        "id": run.pk,
        "journey": run.journey_id,
        "status": run.status,
        "reason": run.reason,
        "via": first.via if first else "",
        "line_request_id": first.request_id if first else "",
        "error": (failed.error_message or failed.reason) if failed else "",
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


def journey_sends_per_day(*, days: int = 30) -> list[dict]:
    """Journey sends per day (UTC dates), replied free and pushed, for the overview."""
    since = timezone.now() - datetime.timedelta(days=days)
    rows = (
        JourneySend.objects.filter(status=JourneySend.Status.SENT, finished_at__gte=since)
        .annotate(day=TruncDate("finished_at"))
        .values_list("day", "via")
        .annotate(n=Count("*"))
        .order_by("day")
    )
    out: dict[datetime.date, dict] = {}
    for day, how, n in rows:
        entry = out.setdefault(day, {"day": day, "replied": 0, "pushed": 0})
        entry["replied" if how == JourneySend.Via.REPLY else "pushed"] += n
    return list(out.values())


def quota_free_replies(*, since: datetime.datetime) -> dict[str, int]:
    """Journey sends since `since` by the API that carried them: replies cost no quota."""
    rows = dict(
        JourneySend.objects.filter(status=JourneySend.Status.SENT, finished_at__gte=since)
        .values_list("via")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {"replied": rows.get("reply", 0), "pushed": rows.get("push", 0)}
