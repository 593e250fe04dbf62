"""Journey reads: lists, the per-journey report, the run log and sends per day. Every figure
is counted from the run and send rows (the ledger); Attempted = Sent + Failed as for campaigns."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from campaigns.models import figures_from_counts
from campaigns.wording import reason_label
from journeys.definition import summary
from journeys.entry import SKIP_REASONS
from journeys.models import Journey, JourneyRun, JourneySend

# Failures only a journey send has; the others are the campaign engine's (campaigns.wording).
FAILURE_LABELS = {
    "no_contact": "Contact deleted before the send",
    "reply_unconfirmed": "Reply unconfirmed (its worker was lost and the token expired)",
    "stopped": "Stopped before sending",
}
RUN_CSV_COLUMNS = (
    "run",
    "triggered_at",
    "line_id",
    "display_name",
    "status",
    "reason",
    "via",
    "line_request_id",
    "error",
    "finished_at",
)


def _count_of(model: type[JourneyRun] | type[JourneySend], **filters: object) -> Coalesce:
    """Each journey's rows counted in a subquery: joining runs and sends would multiply them."""
    rows = (
        model.objects.filter(journey=OuterRef("pk"), **filters)
        .order_by()
        .values("journey")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def journeys_list(*, status: str = "") -> QuerySet[Journey]:
    """With each journey's triggered (runs) and sent (accepted sends) counts."""
    qs = Journey.objects.select_related("connection", "current_version").annotate(
        runs_total=_count_of(JourneyRun),
        sent_total=_count_of(JourneySend, status=JourneySend.Status.SENT),
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-updated_at", "-id")


def trigger_summary(journey: Journey) -> str:
    return summary(journey.trigger if isinstance(journey.trigger, dict) else {})


def skip_label(reason: str) -> str:
    return SKIP_REASONS.get(reason, reason.replace("_", " ").capitalize())


def failure_label(reason: str) -> str:
    return FAILURE_LABELS.get(reason) or reason_label(reason)


def entry_summary(entry: object) -> str:
    if entry == "once":
        return "Once: a contact enters at most once"
    if entry == "every_time":
        return "Every time the trigger fires"
    if isinstance(entry, dict) and "at_most_every" in entry:
        return f"At most every {entry['at_most_every']}"
    return "—"


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
        "in_progress": sum(runs.get(s, 0) for s in JourneyRun.OPEN),
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
            {"reason": r, "label": failure_label(r), "count": n}
            for r, n in sorted(failed_reasons.items(), key=lambda kv: -kv[1])
        ],
        "steps": steps,
    }


def journey_runs(*, journey: Journey, status: str = "", q: str = "") -> QuerySet[JourneyRun]:
    """The run log, newest first, with each run's sends."""
    runs = JourneyRun.objects.filter(journey=journey).select_related("contact")
    runs = runs.prefetch_related("sends")
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


def run_reason_label(run: JourneyRun) -> str:
    if not run.reason:
        return ""
    return (
        skip_label(run.reason)
        if run.status == JourneyRun.Status.SKIPPED
        else (failure_label(run.reason))
    )


def run_log_rows(runs: Iterable[JourneyRun]) -> list[dict]:
    """The run log's rows: each run with its outcome (via, LINE request id, error)."""
    vias = dict(JourneySend.Via.choices)
    rows = []
    for run in runs:
        outcome = run_outcome(run)
        rows.append(
            {
                "run": run,
                **outcome,
                "via_label": vias.get(outcome["via"], ""),
                "reason_label": run_reason_label(run),
            }
        )
    return rows


def journey_runs_csv_values(*, journey: Journey, status: str = "", q: str = "") -> Iterator[tuple]:
    """The run log as CSV rows (RUN_CSV_COLUMNS), read in chunks."""
    runs = journey_runs(journey=journey, status=status, q=q).iterator(chunk_size=2000)
    for run in runs:
        outcome = run_outcome(run)
        yield (
            run.pk,
            run.created_at,
            run.line_id,
            run.contact.display_name if run.contact else "",
            run.status,
            run.reason,
            outcome["via"],
            outcome["line_request_id"],
            outcome["error"],
            run.finished_at,
        )


def journey_sends_per_day(*, days: int = 30) -> list[dict]:
    """Journey sends per day (days in the active time zone), replied free and pushed, for the
    overview."""
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
