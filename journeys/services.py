"""Journey writes: create, edit (an active journey gets a new version), activate, pause,
archive, delete, and the transactional trigger of `POST /api/v1/journeys/{id}/trigger`."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audiences.custom_events import ContactNotFound, properties_validate
from audiences.models import Contact
from audiences.selectors import contact_by_line_id
from audiences.services import ContactError, contact_upsert
from connections.models import Connection
from journeys import definition
from journeys.definition import JourneyInvalid, Problem
from journeys.entry import enter
from journeys.models import Journey, JourneyRun, JourneyVersion
from kit.services import audit_record

__all__ = [
    "JourneyError",
    "JourneyInvalid",
    "journey_activate",
    "journey_archive",
    "journey_create",
    "journey_delete",
    "journey_pause",
    "journey_runs_export_record",
    "journey_test",
    "journey_trigger",
    "journey_update",
]

DEFINITION = (
    "trigger",
    "entry_conditions",
    "entry",
    "steps",
    "transactional",
    "daily_limit",
    "goal",
    "exit_when",
    "quiet_hours",
    "timezone",
)
UPDATABLE = {"name", "connection", *DEFINITION}


class JourneyError(ValueError):
    """A state change the journey's status does not allow; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _validate(journey: Journey) -> None:
    problems = definition.check(
        name=journey.name,
        **{field: getattr(journey, field) for field in DEFINITION},
    )
    if journey.connection_id is None or not isinstance(journey.connection, Connection):
        problems.insert(0, Problem("connection", "Choose a LINE connection."))
    if problems:
        raise JourneyInvalid(problems)


def _apply(journey: Journey, fields: dict[str, Any]) -> None:
    """Set the fields on the unsaved journey and check the whole of it (JourneyInvalid)."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise TypeError(f"unknown journey fields: {sorted(unknown)}")
    for key, value in fields.items():
        setattr(journey, key, value)
    for field in ("entry_conditions", "goal", "exit_when", "quiet_hours"):
        if getattr(journey, field) == {}:
            setattr(journey, field, None)
    journey.timezone = journey.timezone or ""
    _validate(journey)


def journey_create(*, user, connection: Connection | None, **fields: Any) -> Journey:
    """A draft; nothing triggers it until it is activated."""
    journey = Journey(created_by=user if getattr(user, "pk", None) else None)
    journey.connection = connection  # type: ignore[assignment]
    _apply(journey, fields)
    with transaction.atomic():
        journey.save()
        audit_record(
            actor=user,
            action="journey.create",
            target=journey,
            details={"trigger": journey.trigger_type, "transactional": journey.transactional},
        )
    return journey


def journey_update(*, journey: Journey, user, **changes: Any) -> Journey:
    """Edit the definition. A draft or paused journey just saves; an active one also freezes a
    new version at once (runs already in finish with the version they entered)."""
    if journey.status == Journey.Status.ARCHIVED:
        raise JourneyError("An archived journey cannot be edited; copy it into a new one.")
    was_transactional = journey.transactional
    _apply(journey, changes)
    with transaction.atomic():
        journey.save()
        details: dict[str, Any] = {"fields": sorted(changes)}
        if journey.status == Journey.Status.ACTIVE:
            version = _freeze(journey, user)
            details["version"] = version.number
        audit_record(actor=user, action="journey.update", target=journey, details=details)
        if journey.transactional != was_transactional:
            audit_record(
                actor=user,
                action="journey.transactional",
                target=journey,
                details={"transactional": journey.transactional},
            )
    return journey


def _definition_of(source: Journey | JourneyVersion, steps: list[dict]) -> dict:
    return {
        "trigger": source.trigger,
        "entry_conditions": source.entry_conditions,
        "entry": source.entry,
        "steps": steps,
        "transactional": source.transactional,
        "daily_limit": source.daily_limit,
        "goal": source.goal,
        "exit_when": source.exit_when,
        "quiet_hours": source.quiet_hours,
        "timezone": source.timezone,
    }


def _freeze(journey: Journey, user) -> JourneyVersion:
    """The journey's definition as a new version (the current one if nothing changed)."""
    steps = definition.frozen_steps(journey.steps)
    current = journey.current_version
    if current is not None and _definition_of(current, current.steps) == _definition_of(
        journey, steps
    ):
        return current
    last = journey.versions.aggregate(n=Max("number"))["n"] or 0
    version = JourneyVersion.objects.create(
        journey=journey,
        number=last + 1,
        trigger_type=journey.trigger_type,
        created_by=user if getattr(user, "pk", None) else None,
        **_definition_of(journey, steps),
    )
    journey.current_version = version
    journey.save(update_fields=["current_version", "updated_at"])
    return version


def _set_status(
    journey: Journey, user, status: str, allowed: tuple[str, ...], action: str
) -> Journey:
    with transaction.atomic():
        locked = Journey.objects.select_for_update().get(pk=journey.pk)
        if locked.status not in allowed:
            status_name = locked.get_status_display().lower()
            article = "An" if status_name[0] in "aeiou" else "A"
            raise JourneyError(f"{article} {status_name} journey cannot be {action}d.")
        locked.status = status
        details: dict[str, Any] = {}
        if status == Journey.Status.ACTIVE:
            _validate(locked)
            locked.activated_at = timezone.now()
            locked.save()
            details["version"] = _freeze(locked, user).number
        else:
            locked.save()
        audit_record(actor=user, action=f"journey.{action}", target=locked, details=details)
    journey.refresh_from_db()
    return journey


def journey_activate(*, journey: Journey, user) -> Journey:
    """From now on its trigger enters contacts, with the definition as it is now."""
    return _set_status(
        journey,
        user,
        Journey.Status.ACTIVE,
        (Journey.Status.DRAFT, Journey.Status.PAUSED),
        "activate",
    )


def journey_pause(*, journey: Journey, user) -> Journey:
    """No new entries; runs already in finish."""
    return _set_status(journey, user, Journey.Status.PAUSED, (Journey.Status.ACTIVE,), "pause")


def journey_archive(*, journey: Journey, user) -> Journey:
    """Stopped for good, kept with its report."""
    return _set_status(
        journey,
        user,
        Journey.Status.ARCHIVED,
        (Journey.Status.DRAFT, Journey.Status.ACTIVE, Journey.Status.PAUSED),
        "archive",
    )


def journey_delete(*, journey: Journey, user) -> None:
    """Only a journey nobody entered: one with runs keeps its report and is archived instead."""
    if journey.runs.exists():
        raise JourneyError("This journey has runs and a report; archive it instead of deleting it.")
    with transaction.atomic():
        audit_record(
            actor=user, action="journey.delete", details={"id": journey.pk, "name": journey.name}
        )
        journey.delete()


def journey_test(
    *, journey: Journey, contact: Contact, user, data: dict | None = None
) -> JourneyRun:
    """ "Test with a contact": one run of the journey as it is now (a draft too), its waits
    shortened to seconds, entry rules not applied, left out of the journey's figures."""
    if journey.status == Journey.Status.ARCHIVED:
        raise JourneyError("An archived journey cannot be tested.")
    _validate(journey)
    with transaction.atomic():
        version = _freeze(journey, user)
        run, _ = enter(
            version=version,
            contact=contact,
            trigger_key=f"test:{uuid.uuid4()}",
            payload={"data": data or {}, "event": {"name": "test", "properties": data or {}}},
            test=True,
        )
        audit_record(
            actor=user,
            action="journey.test",
            target=journey,
            details={"line_id": contact.line_id, "run": run.pk},
        )
    return run


def journey_runs_export_record(*, journey: Journey, user, filters: dict) -> None:
    """Who downloaded which runs (contacts' LINE ids and names): the audit log keeps it, as for
    the delivery log."""
    audit_record(actor=user, action="journey.export_runs", target=journey, details=filters)


def journey_trigger(
    *,
    journey: Journey,
    data: dict,
    line_id: str | None = None,
    external_id: str | None = None,
    idempotency_key: str | None = None,
    actor=None,
) -> tuple[JourneyRun, bool]:
    """One person enters an `api` journey with `data` (transactional sends: an order receipt).
    The same idempotency key returns the same run, which sends once. Returns (run, created).
    Raises JourneyError (not active, not an API journey), JourneyInvalid (`data` too large, or
    not an object) or ContactNotFound (no contact has `external_id`).
    A key seen before answers with its run first, whatever happened since: a client retrying
    after a lost answer learns what its first call did, even if the journey was paused since."""
    key = f"api:{idempotency_key}" if idempotency_key else f"api:{uuid.uuid4()}"
    earlier = JourneyRun.objects.filter(journey=journey, trigger_key=key).first()
    if earlier is not None:
        return earlier, False
    if journey.status != Journey.Status.ACTIVE or journey.current_version is None:
        raise JourneyError("The journey is not active: activate it before triggering it.")
    version = journey.current_version
    if version.trigger_type != Journey.Trigger.API:
        raise JourneyError(
            f"This journey starts on its {version.trigger_type} trigger, not on API calls.", 409
        )
    try:
        properties_validate(properties=data, field="data")
    except ContactError as exc:
        raise JourneyInvalid([Problem(exc.field, exc.message)]) from exc
    if external_id is not None:
        contact = Contact.objects.filter(external_id=external_id).first()
        if contact is None:
            raise ContactNotFound(external_id)
    else:
        contact = contact_by_line_id(line_id=line_id or "")
        if contact is None:
            try:
                contact, _ = contact_upsert(
                    line_id=line_id or "", source=Contact.Source.API, actor=actor
                )
            except ContactError as exc:
                raise JourneyInvalid([Problem(exc.field, exc.message)]) from exc
    with transaction.atomic():
        return enter(
            version=version,
            contact=contact,
            trigger_key=key,
            payload={"data": data},
        )
