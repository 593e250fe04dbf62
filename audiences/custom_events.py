"""Events from the brand's own systems (`POST /api/v1/events`, docs/design.md §5.1): stored once
per sender's id, on the contact's timeline, in segments ("did E within the last N days"), and
handed to whoever listens for them (journeys, by the `custom_event_recorded` signal)."""

from __future__ import annotations

import datetime
import json

from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from audiences.models import Contact, CustomEvent
from audiences.rules import EVENT_NAME_RE
from audiences.selectors import contact_by_line_id
from audiences.services import ContactError, contact_upsert
from kit.input_guard import nul_path

# Sent after the event's transaction commits, with `event` (a CustomEvent). Higher layers
# (journeys) connect to it in their AppConfig.ready(); audiences imports none of them.
custom_event_recorded = Signal()

MAX_PROPERTIES_BYTES = 16 * 1024


class ContactNotFound(LookupError):
    """No contact has this external id: an event cannot create one without a LINE id."""


def custom_event_validate(*, name: object, properties: object) -> None:
    if not isinstance(name, str) or not EVENT_NAME_RE.match(name) or not name.strip():
        raise ContactError("name", "an event name is 1 to 100 characters, no control characters.")
    properties_validate(properties=properties, field="properties")


def properties_validate(*, properties: object, field: str) -> None:
    """What an event's properties (or a journey trigger's data) may be: a JSON object of at
    most MAX_PROPERTIES_BYTES, without NUL characters."""
    if not isinstance(properties, dict):
        raise ContactError(field, "must be a JSON object.")
    size = len(json.dumps(properties, ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        raise ContactError(
            field, f"at most {MAX_PROPERTIES_BYTES // 1024} KB of JSON ({size:,} bytes)."
        )
    if (where := nul_path(properties)) is not None:
        raise ContactError(f"{field}{where}", "contains a NUL character.")


def custom_event_record(
    *,
    name: str,
    properties: dict | None = None,
    line_id: str | None = None,
    external_id: str | None = None,
    idempotency_id: str | None = None,
    occurred_at: datetime.datetime | None = None,
    actor=None,
) -> tuple[CustomEvent, bool]:
    """Store one event for the contact with `line_id` (created if new, source api) or
    `external_id` (ContactNotFound if nobody has it); returns (event, created). With an
    `idempotency_id` already stored, returns that event and stores nothing."""
    properties = {} if properties is None else properties
    custom_event_validate(name=name, properties=properties)
    if idempotency_id:
        earlier = CustomEvent.objects.filter(idempotency_id=idempotency_id).first()
        if earlier is not None:
            return earlier, False
    with transaction.atomic():
        contact = _contact(line_id=line_id, external_id=external_id, actor=actor)
        try:
            with transaction.atomic():
                event = CustomEvent.objects.create(
                    contact=contact,
                    name=name,
                    properties=properties,
                    idempotency_id=idempotency_id or None,
                    occurred_at=occurred_at or timezone.now(),
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:
            # The same id sent twice at once: the other request stored it.
            return CustomEvent.objects.get(idempotency_id=idempotency_id), False
        transaction.on_commit(lambda: custom_event_recorded.send(sender=CustomEvent, event=event))
    return event, True


def _contact(*, line_id: str | None, external_id: str | None, actor) -> Contact:
    if external_id is not None:
        contact = Contact.objects.filter(external_id=external_id).first()
        if contact is None:
            raise ContactNotFound(external_id)
        return contact
    contact = contact_by_line_id(line_id=line_id or "")
    if contact is None:
        contact, _ = contact_upsert(line_id=line_id or "", source=Contact.Source.API, actor=actor)
    return contact
