"""Moving runs through their steps (docs/design.md §11): the run lease, the walk from step to
step, the timer that wakes waiting runs, and the sweeper.

A run is held by one worker while `running` (the run lease, `kit.leases`: `claimed_at` its
heartbeat, `claims` the claim's token). The worker walks it through branches, splits and exits
until it reaches a send (its row written before the attempt, keyed by the run's move, so a
re-walk after a crash finds it), a wait (the run is saved `waiting` with a `wake_at`) or its
end. The sends of every run a task holds go out together (`sending.send_all`), then the walk
goes on. Waiting is a row with an indexed `wake_at`, never a Celery countdown: `journeys.wake`
claims due runs in pages and queues them.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from audiences.models import Contact
from audiences.rules import RuleError
from audiences.selectors import segment_contacts
from campaigns.engine.config import option
from journeys.flow import duration, step_ids, time_of_day
from journeys.models import JourneyRun, JourneySend
from journeys.sending import Outgoing, prepare, send_all
from kit.enqueue import enqueue
from kit.leases import Lease

log = logging.getLogger(__name__)

RUN_QUEUED = "journeys.run_step"  # a run id: claim it from queued and walk it
RUN_CLAIMED = "journeys.run_claimed"  # [[run id, claim token], ...] the timer claimed
RUN_LEASE = Lease(
    JourneyRun,
    held=JourneyRun.Status.RUNNING,
    stamp="claimed_at",
    seconds=lambda: option("CAMPAIGN_BATCH_LEASE_SECONDS"),
)
# A queued run nobody claimed for this long lost its task (a broker restart): queued again.
REQUEUE_AFTER = datetime.timedelta(seconds=60)
# How many runs one task walks (the timer's page is split into tasks of this size).
RUNS_PER_TASK = 200
# A wait_for a segment looks again this often.
SEGMENT_POLL = datetime.timedelta(seconds=60)
# The walk of one run stops after this many steps without a wait (the flow check refuses
# loops without a wait; this is the engine's own guard).
MAX_STEPS_PER_WALK = 200
FINAL = (
    JourneyRun.Status.SENT,
    JourneyRun.Status.FAILED,
    JourneyRun.Status.SKIPPED,
    JourneyRun.Status.EXITED,
    JourneyRun.Status.CONVERTED,
)


class LeaseLost(Exception):
    """The sweeper gave a run to another worker: this one stops writing it."""


def enqueue_claimed(pairs: list[list[int]]) -> None:
    enqueue(RUN_CLAIMED, pairs)


# -- holding runs ---------------------------------------------------------------------------


def _load(pairs: Iterable[tuple[int, int]]) -> list[JourneyRun]:
    tokens = dict(pairs)
    runs = JourneyRun.objects.select_related("version", "journey__connection", "contact").filter(
        pk__in=tokens, status=JourneyRun.Status.RUNNING
    )
    return [run for run in runs if run.claims == tokens[run.pk]]


def run_queued(run_id: int) -> int:
    """Claim a queued run and walk it; returns how many runs this call moved."""
    if not RUN_LEASE.claim(
        {"pk": run_id, "status": JourneyRun.Status.QUEUED}, claims=F("claims") + 1
    ):
        return 0
    claims = JourneyRun.objects.filter(pk=run_id).values_list("claims", flat=True).first()
    return walk_runs(_load([(run_id, claims)]))


def run_claimed(pairs: list[list[int]]) -> int:
    """Walk runs the timer claimed (each with its claim's token)."""
    return walk_runs(_load((pk, claims) for pk, claims in pairs))


def _save(run: JourneyRun, **fields) -> None:
    """Write the run's progress, only while this claim holds it."""
    fields.setdefault("claimed_at", timezone.now())
    if not RUN_LEASE.held_rows(pk=run.pk, claims=run.claims).update(**fields):
        raise LeaseLost(run.pk)
    for key, value in fields.items():
        if key != "claimed_at":
            setattr(run, key, value)


def _heartbeat(runs: list[JourneyRun]) -> None:
    held = RUN_LEASE.held_rows(pk__in=[r.pk for r in runs])
    held.update(claimed_at=timezone.now())


# -- the walk -------------------------------------------------------------------------------


def walk_runs(runs: list[JourneyRun]) -> int:
    """Walk each run until it waits or ends; the sends met on the way go out together."""
    active = list(runs)
    moved = len(active)
    while active:
        outgoing: list[Outgoing] = []
        for run in active:
            try:
                out = _walk(run)
            except LeaseLost:
                log.warning("journey run %s: lease lost; the sweeper's claim goes on", run.pk)
                continue
            if out is not None:
                outgoing.append(out)
        if not outgoing:
            break
        active = [out.run for out in outgoing]
        send_all(outgoing, heartbeat=functools.partial(_heartbeat, active))
    return moved


def _walk(run: JourneyRun) -> Outgoing | None:
    """Move the run on until it has a send to make (returned), waits, or ends (None)."""
    steps = run.version.steps
    ids = step_ids(steps)
    now = timezone.now()
    for _ in range(MAX_STEPS_PER_WALK):
        left = _left(run)
        if left:
            _leave(run, *left)
            return None
        if run.step_index >= len(steps):
            _end(run)
            return None
        step = steps[run.step_index]
        kind = step.get("type")
        if kind == "send":
            quiet = _quiet_until(run, now)
            if (
                quiet is not None
                and not JourneySend.objects.filter(run=run, position=run.position).exists()
            ):
                if (run.version.quiet_hours or {}).get("action") == "skip":
                    send_row(run, skipped="quiet_hours")
                else:
                    _wait(run, quiet)
                    return None
            send = send_row(run)
            if send.status in JourneySend.OPEN:
                out = prepare(send, run, first_send=_first_send(run))
                if out is not None:
                    return out
            _next(run, ids, outcome=send.status)
        elif kind in ("wait", "wait_until"):
            if run.wake_at is not None and run.wake_at <= now:
                _next(run, ids, outcome="waited")
            else:
                _wait(run, _wake_time(step, run, now))
                return None
        elif kind == "wait_for":
            waiting = run.waiting_for or {}
            if waiting.get("happened") or (
                waiting.get("segment") and _matches_segment(run, waiting["segment"])
            ):
                _next(run, ids, target=step.get("then"), outcome="happened")
            elif (
                run.wake_at is not None and waiting.get("until") and now >= _parse(waiting["until"])
            ):
                _next(run, ids, target=step.get("else"), outcome="timed out")
            elif run.wake_at is not None and run.wake_at <= now and waiting:
                _wait(run, _next_look(waiting, now), waiting_for=waiting)
                return None
            else:
                timeout = duration(step.get("timeout")) or datetime.timedelta(days=1)
                until = now + (min(timeout, TEST_WAIT * 2) if run.test else timeout)
                waiting = {"until": until.isoformat()}
                if step.get("event"):
                    waiting["event"] = step["event"]
                else:
                    waiting["segment"] = step.get("segment")
                _wait(run, _next_look(waiting, now), waiting_for=waiting)
                return None
        elif kind == "branch":
            matched = _matches(run, step.get("rules") or {"all": []})
            target = step.get("then") if matched else step.get("else")
            _next(run, ids, target=target, outcome="then" if matched else "else")
        elif kind == "split":
            arm = _arm(run, step, ids[run.step_index])
            _next(run, ids, target=arm, outcome=f"arm {arm}")
        else:  # exit, or a type this version of the engine does not know
            _end(run, at_exit=True)
            return None
    log.error("journey run %s: %s steps without a wait; stopped", run.pk, MAX_STEPS_PER_WALK)
    _save(run, status=JourneyRun.Status.FAILED, reason="too_many_steps", finished_at=now)
    return None


def _first_send(run: JourneyRun) -> bool:
    """A reply only for a run's first message, before any wait."""
    return not any(h.get("type") in ("send", "wait", "wait_until", "wait_for") for h in run.history)


def send_row(run: JourneyRun, *, skipped: str = "") -> JourneySend:
    """The send of this move: made once (a re-walk after a crash finds it), with its retry key;
    `skipped` makes it skipped with that reason."""
    from journeys.entry import retry_key, sends_today

    send = JourneySend.objects.filter(run=run, position=run.position).first()
    if send is not None:
        return send
    version = run.version
    status, reason = JourneySend.Status.PENDING, ""
    if skipped:
        status, reason = JourneySend.Status.SKIPPED, skipped
    elif run.contact is not None and sends_today(version, run.contact) >= version.daily_limit:
        status, reason = JourneySend.Status.SKIPPED, "daily_limit"
    return JourneySend.objects.create(
        run=run,
        journey_id=run.journey_id,
        contact=run.contact,
        step=run.step_index,
        position=run.position,
        line_id=run.line_id,
        retry_key=retry_key(run.journey_id, run.trigger_key, run.position),
        marketing=not version.transactional,
        status=status,
        reason=reason,
        finished_at=timezone.now() if reason else None,
    )


def _history(run: JourneyRun, outcome: str) -> list[dict]:
    steps = run.version.steps
    ids = step_ids(steps)
    entry = {
        "step": ids[run.step_index] if run.step_index < len(ids) else "",
        "type": steps[run.step_index].get("type") if run.step_index < len(steps) else "end",
        "at": timezone.now().isoformat(),
        "outcome": outcome,
    }
    return [*run.history, entry][-200:]


def _next(run: JourneyRun, ids: list[str], *, target: str | None = None, outcome: str = "") -> None:
    """On to `target`, else the step's own `next`, else the step below."""
    if target is None:
        target = run.version.steps[run.step_index].get("next")
    index = ids.index(target) if target in ids else run.step_index + 1
    _save(
        run,
        step_index=index,
        position=run.position + 1,
        wake_at=None,
        waiting_for=None,
        history=_history(run, outcome),
    )


def _wait(run: JourneyRun, wake_at: datetime.datetime, waiting_for: dict | None = None) -> None:
    _save(
        run,
        status=JourneyRun.Status.WAITING,
        wake_at=wake_at,
        waiting_for=waiting_for,
        claimed_at=None,
    )


def _end(run: JourneyRun, *, at_exit: bool = False) -> None:
    """The run's end: failed if a send failed, sent if one was sent, else exited."""
    statuses = list(JourneySend.objects.filter(run=run).values_list("status", "reason"))
    reason = ""
    if any(s == JourneySend.Status.FAILED for s, _ in statuses):
        status = JourneyRun.Status.FAILED
        reason = next(r for s, r in statuses if s == JourneySend.Status.FAILED)
    elif any(s == JourneySend.Status.SENT for s, _ in statuses):
        status = JourneyRun.Status.SENT
    elif statuses:
        status = JourneyRun.Status.SKIPPED
        reason = next((r for _, r in statuses if r), "")
    else:
        status, reason = JourneyRun.Status.EXITED, "exit_step" if at_exit else "end"
    _save(
        run,
        status=status,
        reason=reason[:32],
        finished_at=timezone.now(),
        wake_at=None,
        history=_history(run, "exit" if at_exit else "end") if at_exit else run.history,
    )


# -- leaving early --------------------------------------------------------------------------


def _left(run: JourneyRun) -> tuple[str, str] | None:
    """(status, reason) when the run leaves before its next step: the contact was deleted,
    blocked the account, opted out of marketing, or reached the goal."""
    contact, version = run.contact, run.version
    if contact is None:
        return JourneyRun.Status.EXITED, "contact_deleted"
    if run.test:  # a marketer's test goes through whatever the contact's state
        return None
    if contact.follow_status == Contact.FollowStatus.UNFOLLOWED:
        return JourneyRun.Status.EXITED, "unfollowed"
    if contact.opted_out and not version.transactional:
        return JourneyRun.Status.EXITED, "opted_out"
    goal = version.goal or {}
    if (
        goal.get("segment") is not None
        and _within_goal(run)
        and _matches_segment(run, goal["segment"])
    ):
        return JourneyRun.Status.CONVERTED, "goal"
    return None


def _within_goal(run: JourneyRun) -> bool:
    within = duration((run.version.goal or {}).get("within"))
    return within is not None and timezone.now() <= run.created_at + within


def _leave(run: JourneyRun, status: str, reason: str) -> None:
    _save(
        run,
        status=status,
        reason=reason,
        finished_at=timezone.now(),
        wake_at=None,
        history=_history(run, reason),
    )


def _quiet_until(run: JourneyRun, now: datetime.datetime) -> datetime.datetime | None:
    """When the journey's quiet hours end, if `now` is inside them (in the contact's zone or
    the one they name), spread over the first 10 minutes; None outside them."""
    quiet = run.version.quiet_hours
    if not quiet:
        return None
    start, end = time_of_day(quiet.get("from")), time_of_day(quiet.get("to"))
    if start is None or end is None:
        return None
    zone = _zone(quiet, run)
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + datetime.timedelta(days=1)
    ends = datetime.datetime.combine(day, end, tzinfo=zone)
    spread = int.from_bytes(hashlib.sha256(f"{run.pk}".encode()).digest()[:4], "big") % 600
    return (ends + datetime.timedelta(seconds=spread)).astimezone(datetime.UTC)


# -- what the steps ask ---------------------------------------------------------------------


def _zone(options: dict, run: JourneyRun) -> zoneinfo.ZoneInfo:
    """`options["timezone"]`: a zone, or "contact": the contact's `timezone` attribute, else the
    journey's zone, else TIME_ZONE."""
    name = options.get("timezone") or "contact"
    if name == "contact":
        attributes = run.contact.attributes if run.contact is not None else {}
        name = attributes.get("timezone") if isinstance(attributes, dict) else None
        version = getattr(run, "version", None)
        name = name or getattr(version, "timezone", "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# A test run's waits and timeouts last at most this long.
TEST_WAIT = datetime.timedelta(seconds=3)


def _wake_time(step: dict, run: JourneyRun, now: datetime.datetime) -> datetime.datetime:
    if getattr(run, "test", False):
        return now + min(duration(step.get("duration")) or TEST_WAIT, TEST_WAIT)
    if step.get("type") == "wait":
        return now + (duration(step.get("duration")) or datetime.timedelta(0))
    at = time_of_day(step.get("time")) or datetime.time(9, 0)
    zone = _zone(step, run)
    local = now.astimezone(zone)
    candidate = datetime.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.datetime.combine(
            local.date() + datetime.timedelta(days=1), at, tzinfo=zone
        )
    return candidate.astimezone(datetime.UTC)


def _parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def _next_look(waiting: dict, now: datetime.datetime) -> datetime.datetime:
    until = _parse(waiting["until"])
    if waiting.get("segment") is not None:
        return min(until, now + SEGMENT_POLL)
    return until


def _matches(run: JourneyRun, rules: dict) -> bool:
    if run.contact is None:
        return False
    try:
        return segment_contacts(rules=rules).filter(pk=run.contact_id).exists()
    except RuleError as exc:
        log.warning("journey run %s: branch rules: %s", run.pk, exc)
        return False


def _matches_segment(run: JourneyRun, segment_id: object) -> bool:
    from audiences.models import Segment

    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None or run.contact is None:
        return False
    return (
        segment_contacts(rules=segment.rules, segment_id=segment.pk)
        .filter(pk=run.contact_id)
        .exists()
    )


def _arm(run: JourneyRun, step: dict, step_id: str) -> str | None:
    """A random arm, stable per contact: the same contact takes the same arm on re-entry."""
    arms = [a for a in step.get("arms") or [] if isinstance(a, dict)]
    total = sum(max(int(a.get("weight") or 0), 0) for a in arms)
    if not arms or total <= 0:
        return None
    who = run.contact_id or run.line_id
    digest = hashlib.sha256(f"{run.journey_id}:{step_id}:{who}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for arm in arms:
        point -= max(int(arm.get("weight") or 0), 0)
        if point < 0:
            return arm.get("next")
    return arms[-1].get("next")


# -- the timer and the sweeper --------------------------------------------------------------


def runs_wake(*, page: int = 1000, budget_seconds: float = 8.0) -> int:
    """Claim due waiting runs page by page (a conditional update per page) and queue them in
    tasks of RUNS_PER_TASK; returns how many were claimed."""
    started = timezone.now()
    claimed = 0
    while (timezone.now() - started).total_seconds() < budget_seconds:
        now = timezone.now()
        due = list(
            JourneyRun.objects.filter(status=JourneyRun.Status.WAITING, wake_at__lte=now)
            .order_by("wake_at")
            .values_list("pk", flat=True)[:page]
        )
        if not due:
            break
        stamp = timezone.now()
        JourneyRun.objects.filter(
            pk__in=due, status=JourneyRun.Status.WAITING, wake_at__lte=now
        ).update(status=JourneyRun.Status.RUNNING, claimed_at=stamp, claims=F("claims") + 1)
        pairs = list(
            JourneyRun.objects.filter(
                pk__in=due, status=JourneyRun.Status.RUNNING, claimed_at=stamp
            ).values_list("pk", "claims")
        )
        for start in range(0, len(pairs), RUNS_PER_TASK):
            enqueue_claimed([list(p) for p in pairs[start : start + RUNS_PER_TASK]])
        claimed += len(pairs)
        if len(due) < page:
            break
    return claimed


def runs_sweep() -> dict[str, int]:
    """Every 10 s: runs whose worker was lost go back to queued and are queued again; queued
    runs whose task was lost are queued again."""
    from journeys.entry import enqueue_run

    released = RUN_LEASE.sweep({"status": JourneyRun.Status.QUEUED, "claimed_at": None})
    # A reply its lost worker was sending is walked here and now, not queued: behind a backlog
    # it could outlive its token, and then LINE can no longer tell whether it went out.
    replying = set(
        JourneySend.objects.filter(
            run_id__in=[r.pk for r in released],
            status__in=JourneySend.OPEN,
            via=JourneySend.Via.REPLY,
        ).values_list("run_id", flat=True)
    )
    for run_id in sorted(replying):
        try:
            run_queued(run_id)
        except Exception:
            log.exception("journey run %s: the sweep's resend failed; queued instead", run_id)
            replying.discard(run_id)
    now = timezone.now()
    cutoff = now - REQUEUE_AFTER
    lost = JourneyRun.objects.filter(status=JourneyRun.Status.QUEUED, created_at__lt=cutoff).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff)
    )
    lost_ids = list(lost.values_list("pk", flat=True)[:1000])
    if lost_ids:
        # The re-queue is stamped so that a backlog is not queued twice.
        JourneyRun.objects.filter(pk__in=lost_ids, status=JourneyRun.Status.QUEUED).update(
            claimed_at=now
        )
    for run_id in sorted(({r.pk for r in released} - replying) | set(lost_ids)):
        enqueue_run(run_id)
    return {"released": len(released), "requeued": len(lost_ids)}
