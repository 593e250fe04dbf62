"""Writes to contacts and segments: upsert with identify/merge, bulk upsert, opt-out, delete."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pydantic
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from audiences import hooks
from audiences.models import AttributeKey, Contact, Segment
from audiences.rules import parse_date
from audiences.selectors import segment_contacts, segment_users
from kit.input_guard import NUL_MESSAGE, nul_path
from kit.services import audit_record
from lineapi import LINE_ID_RE, normalize_line_id

BULK_MAX = 10_000
# Limits on a contact's attributes, so that one contact cannot hold megabytes or thousands of
# keys. Keys are cut at 100 characters in the catalogue too (attribute_keys_record).
MAX_ATTRIBUTE_KEYS = 200
MAX_KEY_CHARS = 100
MAX_VALUE_BYTES = 4096
SQL_ROWS = 500  # rows per INSERT statement


class ContactError(ValueError):
    """A contact write that cannot be done; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message

    @property
    def reason(self) -> str:
        return f"{self.field}: {self.message}"


class ContactFields(pydantic.BaseModel):
    """The writable fields of one contact: the body of PUT /contacts/{line_id} and each item of
    the bulk endpoint, so both accept and refuse exactly the same input. Unknown keys (a
    `follow_status`, say, which only LINE's webhooks set) are refused, never silently dropped."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    display_name: str | None = pydantic.Field(None, max_length=255)
    # Checked by contact_upsert, so the error names the field as `attributes`.
    attributes: dict[str, Any] | None = pydantic.Field(
        None,
        description="A JSON object merged into the stored attributes; a null value removes a key.",
    )
    external_id: str | None = pydantic.Field(
        None,
        min_length=1,
        max_length=255,
        description="Your own id. If another contact holds it and this line id belongs to an "
        "anonymous contact, the two are merged; if this line id is new, that contact takes it "
        "and keeps its previous line id in merged_line_ids.",
    )
    opted_out: bool | None = None

    @pydantic.field_validator("display_name", "attributes", "external_id")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL cannot store U+0000 in text or jsonb; refuse it here rather than fail the
        # whole statement (and with it every other item of a bulk request).
        if nul_path(value) is not None:
            raise ValueError(NUL_MESSAGE)
        return value


def attributes_check(attributes: object) -> None:
    """Raise ContactError unless `attributes` is a JSON object within the limits above; the
    error names the key at fault. The API, the bulk endpoint and the CSV import all use it."""
    if not isinstance(attributes, dict):
        raise ContactError("attributes", "must be a JSON object.")
    if len(attributes) > MAX_ATTRIBUTE_KEYS:
        given = len(attributes)
        raise ContactError("attributes", f"at most {MAX_ATTRIBUTE_KEYS} keys ({given} given).")
    for key, value in attributes.items():
        if len(key) > MAX_KEY_CHARS:
            raise ContactError(
                "attributes", f"key {key[:40]!r}… is longer than {MAX_KEY_CHARS} characters."
            )
        if _json_too_large(value):
            raise ContactError(
                f"attributes.{key}", f"the value is larger than {MAX_VALUE_BYTES:,} bytes of JSON."
            )


def _json_too_large(value: object) -> bool:
    # A short string cannot exceed the limit (at most 6 bytes a character, as \uXXXX): skip
    # encoding it, which an import of a million rows would otherwise do for every cell.
    if isinstance(value, str) and 6 * len(value) + 2 <= MAX_VALUE_BYTES:
        return False
    return len(json.dumps(value, ensure_ascii=False).encode()) > MAX_VALUE_BYTES


def contact_fields_clean(item: object) -> dict:
    """A bulk item as ContactFields checks a PUT body; raises ContactError naming the field."""
    if not isinstance(item, dict):
        raise ContactError("contacts[]", "must be a JSON object.")
    fields = {k: v for k, v in item.items() if k != "line_id"}
    try:
        cleaned = ContactFields.model_validate(fields)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "contact"
        raise ContactError(name, error["msg"]) from None
    return {"line_id": item.get("line_id"), **cleaned.model_dump()}


@dataclass
class ContactRow:
    """One contact for the bulk path: no external id, so no merge to consider."""

    line_id: str
    display_name: str = ""
    attributes: dict = field(default_factory=dict)


def validate_line_id(line_id: object) -> str:
    """The line id as LINE writes it (see `normalize_line_id`), or ContactError."""
    if isinstance(line_id, str):
        line_id = normalize_line_id(line_id)
    if not isinstance(line_id, str) or not LINE_ID_RE.match(line_id):
        raise ContactError("line_id", "must be U, C or R followed by 32 hex digits (a LINE id).")
    return line_id


def infer_type(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return AttributeKey.Type.BOOLEAN
    if isinstance(value, int | float):
        return AttributeKey.Type.NUMBER
    if isinstance(value, list):
        return AttributeKey.Type.LIST
    if isinstance(value, dict):
        return AttributeKey.Type.OBJECT
    return AttributeKey.Type.DATE if parse_date(value) else AttributeKey.Type.TEXT


def attribute_keys_record(*, types: dict[str, str], chosen: bool = False) -> None:
    """Keep the attribute catalogue current: add new keys with their type.

    A known key keeps its type: one value of another type (a number sent as text, say) must not
    change how the segment builder compares every contact. Only types a person chose (`chosen`,
    an import's column mapping, which starts from the catalogue's type) replace it."""
    types = {k[:100]: t for k, t in types.items() if t}
    if not types:
        return
    known = dict(AttributeKey.objects.filter(key__in=list(types)).values_list("key", "type"))
    changed = [
        AttributeKey(key=k, type=t)
        for k, t in types.items()
        if k not in known or (chosen and known[k] != t)
    ]
    if changed:
        AttributeKey.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["key"], update_fields=["type", "seen_at"]
        )


def _merge_attributes(old: dict, new: dict | None, replace: bool) -> dict:
    merged = dict(new or {}) if replace else {**old, **(new or {})}
    return {k: v for k, v in merged.items() if v is not None}


@transaction.atomic
def contact_upsert(
    *,
    line_id: str,
    display_name: str | None = None,
    attributes: dict | None = None,
    external_id: str | None = None,
    opted_out: bool | None = None,
    source: str = Contact.Source.API,
    replace_attributes: bool = False,
    connection=None,
    actor=None,
) -> tuple[Contact, bool]:
    """Create or update the contact with `line_id`; returns (contact, created).

    With an `external_id` that another contact already holds: if `line_id` belongs to an
    anonymous contact (no external id, e.g. created by a webhook), the two are merged into the
    identified one (see `_contact_merge`); if `line_id` is new, the identified contact takes it
    and keeps its previous one in `merged_line_ids` (see `_contact_rekey`). A `None` attribute
    value removes that key."""
    line_id = validate_line_id(line_id)
    if attributes is not None:
        attributes_check(attributes)
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise ContactError("external_id", "must be a non-empty string.")
    by_line = Contact.objects.select_for_update().filter(line_id=line_id).first()
    by_external = (
        Contact.objects.select_for_update().filter(external_id=external_id).first()
        if external_id
        else None
    )
    if by_line and external_id and by_line.external_id not in (None, external_id):
        raise ContactError(
            "external_id",
            f"{line_id} is already identified as another external id; delete it first.",
        )
    if by_line and by_external and by_line.pk != by_external.pk:
        contact = _contact_merge(primary=by_external, anonymous=by_line, actor=actor)
    elif by_external and not by_line:
        contact = _contact_rekey(contact=by_external, line_id=line_id, actor=actor)
    else:
        contact = by_line or by_external
    created = contact is None
    if created:
        contact = Contact(line_id=line_id, source=source, connection=connection)
    contact.line_id = line_id
    if display_name is not None:
        contact.display_name = display_name[:255]
    if attributes is not None or replace_attributes:
        contact.attributes = _merge_attributes(contact.attributes, attributes, replace_attributes)
        if len(contact.attributes) > MAX_ATTRIBUTE_KEYS:
            raise ContactError(
                "attributes",
                f"the contact would have {len(contact.attributes)} keys; "
                f"at most {MAX_ATTRIBUTE_KEYS} (a null value removes a key).",
            )
    if external_id:
        contact.external_id = external_id
    if opted_out is not None:
        contact.opted_out = opted_out
    if connection is not None and contact.connection_id is None:
        contact.connection = connection
    contact.save()
    if attributes:
        attribute_keys_record(types={k: infer_type(v) for k, v in attributes.items()})
    return contact, created


def _contact_rekey(*, contact: Contact, line_id: str, actor) -> Contact:
    """The identified contact now answers to a new line id (the person's LINE id changed, or
    another channel's id). The previous one stays in `merged_line_ids`, so lookups by it and its
    webhook events still find this contact, and the change is audited."""
    previous = contact.line_id
    contact.merged_line_ids = sorted({*contact.merged_line_ids, previous})
    contact.line_id = line_id
    audit_record(
        actor=actor,
        action="contact.line_id_change",
        target=contact,
        details={"previous_line_id": previous, "line_id": line_id},
    )
    return contact


def _contact_merge(*, primary: Contact, anonymous: Contact, actor=None) -> Contact:
    """Fold an anonymous contact into an identified one, as Customer.io does on identify.

    Attributes combine (the identified profile wins on a clash); deliveries move over (where
    both received the same campaign, the anonymous row keeps its line id and loses its link:
    campaigns' receiver of `hooks.contact_merging`);
    the anonymous line id is remembered so its webhook events still show."""
    hooks.contact_merging.send(sender=Contact, primary=primary, anonymous=anonymous)
    primary.attributes = {**anonymous.attributes, **primary.attributes}
    primary.display_name = primary.display_name or anonymous.display_name
    primary.picture_url = primary.picture_url or anonymous.picture_url
    primary.opted_out = primary.opted_out or anonymous.opted_out
    primary.connection_id = primary.connection_id or anonymous.connection_id
    if anonymous.follow_status != Contact.FollowStatus.UNKNOWN:
        primary.follow_status = anonymous.follow_status
    times = [t for t in (primary.last_interaction_at, anonymous.last_interaction_at) if t]
    primary.last_interaction_at = max(times) if times else None
    previous = [primary.line_id, anonymous.line_id, *anonymous.merged_line_ids]
    primary.merged_line_ids = sorted(set(primary.merged_line_ids + previous))
    details = {"merged_line_id": anonymous.line_id, "previous_line_id": primary.line_id}
    anonymous.custom_events.update(contact=primary)  # the person's history stays whole
    anonymous.delete()
    audit_record(actor=actor, action="contact.merge", target=primary, details=details)
    return primary


def contacts_bulk_upsert(*, contacts: list, source: str = Contact.Source.API, actor=None) -> dict:
    """Upsert up to BULK_MAX contacts; a bad item is rejected alone, never the whole batch.

    Each item is checked as PUT checks its body (`contact_fields_clean`). Items with an
    external id or an opt-out go one by one through `contact_upsert` (identify/merge); the rest
    are written in bulk. Returns {"created", "updated", "rejected": [{"index", "line_id",
    "reason"}]}."""
    if len(contacts) > BULK_MAX:
        raise ContactError("contacts", f"at most {BULK_MAX:,} contacts per request.")
    created = updated = 0
    rejected: list[dict] = []
    plain: list[ContactRow] = []
    for index, raw in enumerate(contacts):
        line_id = raw.get("line_id") if isinstance(raw, dict) else None
        try:
            item = contact_fields_clean(raw)
            item["line_id"] = line_id = validate_line_id(line_id)
            if item["attributes"] is not None:
                attributes_check(item["attributes"])
            if item["external_id"] is not None or item["opted_out"] is not None:
                _, was_created = contact_upsert(**item, source=source, actor=actor)
                created, updated = created + was_created, updated + (not was_created)
            else:
                name = item["display_name"] or ""
                plain.append(ContactRow(line_id, name, item["attributes"] or {}))
        except ContactError as exc:
            rejected.append({"index": index, "line_id": line_id, "reason": exc.reason})
        except (ValidationError, IntegrityError, DataError) as exc:
            # contact_upsert is atomic, so this item's writes are already rolled back.
            reason = f"not saved: {exc}"
            rejected.append({"index": index, "line_id": line_id, "reason": reason})
    new, changed = contacts_upsert_rows(rows=plain, source=source)
    attribute_keys_record(
        types={k: infer_type(v) for row in plain for k, v in row.attributes.items()}
    )
    return {"created": created + new, "updated": updated + changed, "rejected": rejected}


def contacts_upsert_rows(
    *,
    rows: list[ContactRow],
    source: str,
    replace_attributes: bool = False,
    import_job_id: int | None = None,
) -> tuple[int, int]:
    """Upsert rows by line id with a few bulk statements; returns (created, updated).

    Attributes merge into the stored ones (or replace them). Rows repeating a line id fold into
    one, later values winning, and count as updates. With `import_job_id`, every row written
    records that import (other writers leave the column as it is)."""
    if not rows:
        return 0, 0
    folded: dict[str, ContactRow] = {}
    for row in rows:
        seen = folded.get(row.line_id)
        if seen is None:
            folded[row.line_id] = row
        else:  # a new row rather than changing the caller's
            folded[row.line_id] = ContactRow(
                row.line_id,
                row.display_name or seen.display_name,
                _merge_attributes(seen.attributes, row.attributes, replace_attributes),
            )
    unique = list(folded.values())
    if db_connection.vendor == "postgresql":
        created = _upsert_postgresql(unique, source, replace_attributes, import_job_id)
    else:
        created = _upsert_sqlite(unique, source, replace_attributes, import_job_id)
    return created, len(rows) - created


STAGE = "audiences_contact_stage"
CONTACT_COLUMNS = (
    "line_id, kind, display_name, picture_url, attributes, merged_line_ids, follow_status, "
    "opted_out, source, import_job_id, created_at, updated_at"
)


def _import_job_update(import_job_id: int | None) -> str:
    """On conflict, an import records itself on the contact; other writers leave it as it is."""
    return "" if import_job_id is None else ", import_job_id = excluded.import_job_id"


def _upsert_postgresql(
    rows: list[ContactRow], source: str, replace: bool, import_job_id: int | None
) -> int:
    """COPY the rows into a temporary table, then one INSERT ... ON CONFLICT from it.
    Returns how many were created."""
    table = Contact._meta.db_table
    now = timezone.now()
    with transaction.atomic(), db_connection.cursor() as cursor:
        # A crash can lose the last chunks; the import is idempotent and can simply be rerun.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (line_id varchar(33), kind text, "
            "display_name text, attributes jsonb) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {STAGE}")  # ON COMMIT does not run inside an outer transaction
        with cursor.copy(
            f"COPY {STAGE} (line_id, kind, display_name, attributes) FROM STDIN"
        ) as copy:
            for row in rows:
                attributes = {k: v for k, v in row.attributes.items() if v is not None}
                copy.write_row(
                    (
                        row.line_id,
                        Contact.kind_for(row.line_id),
                        row.display_name,
                        json.dumps(attributes, ensure_ascii=False),
                    )
                )
        attrs = "EXCLUDED.attributes" if replace else "c.attributes || EXCLUDED.attributes"
        cursor.execute(
            f"WITH upserted AS (INSERT INTO {table} AS c ({CONTACT_COLUMNS}) "
            "SELECT line_id, kind, display_name, '', attributes, '[]'::jsonb, 'unknown', false, "
            f"%s, %s, %s, %s FROM {STAGE} "
            f"ON CONFLICT (line_id) DO UPDATE SET attributes = jsonb_strip_nulls({attrs}), "
            "display_name = CASE WHEN EXCLUDED.display_name <> '' THEN EXCLUDED.display_name "
            f"ELSE c.display_name END, updated_at = EXCLUDED.updated_at"
            f"{_import_job_update(import_job_id)} "
            # xmax = 0 marks a row this statement inserted rather than updated.
            "RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FROM upserted WHERE inserted",
            [source, import_job_id, now, now],
        )
        return cursor.fetchone()[0]


def _upsert_sqlite(
    rows: list[ContactRow], source: str, replace: bool, import_job_id: int | None
) -> int:
    now = timezone.now()
    existing = 0
    with transaction.atomic(), db_connection.cursor() as cursor:
        for start in range(0, len(rows), SQL_ROWS):
            part = rows[start : start + SQL_ROWS]
            existing += Contact.objects.filter(line_id__in=[r.line_id for r in part]).count()
            sql, params = _upsert_sql(part, source, replace, now, import_job_id)
            cursor.execute(sql, params)
    return len(rows) - existing


def _upsert_sql(
    rows: list[ContactRow], source: str, replace: bool, now, import_job_id: int | None
) -> tuple[str, list]:
    table = Contact._meta.db_table
    one = "(%s, %s, %s, '', %s, '[]', 'unknown', 0, %s, %s, %s, %s)"
    attrs = (
        "excluded.attributes" if replace else f"json_patch({table}.attributes, excluded.attributes)"
    )
    params: list = []
    for row in rows:
        attributes = {k: v for k, v in row.attributes.items() if v is not None}
        params += [
            row.line_id,
            Contact.kind_for(row.line_id),
            row.display_name,
            json.dumps(attributes, ensure_ascii=False),
            source,
            import_job_id,
            now,
            now,
        ]
    sql = (
        f"INSERT INTO {table} ({CONTACT_COLUMNS}) "
        f"VALUES {', '.join([one] * len(rows))} "
        f"ON CONFLICT (line_id) DO UPDATE SET attributes = {attrs}, "
        "display_name = CASE WHEN excluded.display_name <> '' THEN excluded.display_name "
        f"ELSE {table}.display_name END, updated_at = excluded.updated_at"
        f"{_import_job_update(import_job_id)}"
    )
    return sql, params


def contact_update(*, contact: Contact, actor, display_name: str, attributes: dict) -> Contact:
    contact.display_name = display_name[:255]
    contact.attributes = {k: v for k, v in attributes.items() if v is not None}
    contact.save()
    attribute_keys_record(types={k: infer_type(v) for k, v in contact.attributes.items()})
    audit_record(actor=actor, action="contact.update", target=contact)
    return contact


def contact_opt_out(*, contact: Contact, actor, opted_out: bool = True) -> Contact:
    contact.opted_out = opted_out
    contact.save(update_fields=["opted_out", "updated_at"])
    action = "contact.opt_out" if opted_out else "contact.opt_in"
    audit_record(actor=actor, action=action, target=contact)
    return contact


def contact_delete(*, contact: Contact, actor) -> None:
    audit_record(
        actor=actor, action="contact.delete", target=contact, details={"line_id": contact.line_id}
    )
    contact.delete()


class SegmentInUse(ValueError):
    """The segment is named by another segment's "member of" condition."""


def segment_create(*, name: str, rules: dict, user, description: str = "") -> Segment:
    segment_contacts(rules=rules)  # raises RuleError: bad rules, unknown segment, depth
    segment = Segment.objects.create(
        name=name, rules=rules, description=description, created_by=user
    )
    audit_record(actor=user, action="segment.create", target=segment)
    return segment


def segment_update(
    *, segment: Segment, user, name: str, rules: dict, description: str = ""
) -> Segment:
    segment_contacts(rules=rules, segment_id=segment.pk)  # also refuses a circle back to it
    segment.name, segment.rules, segment.description = name, rules, description
    segment.save()
    audit_record(actor=user, action="segment.update", target=segment)
    return segment


def segment_delete(*, segment: Segment, user) -> None:
    """Raises ProtectedError if a campaign uses the segment, SegmentInUse if a segment does."""
    users = segment_users(segment=segment)
    if users:
        names = ", ".join(f"“{other.name}”" for other in users)
        raise SegmentInUse(
            f"“{segment.name}” is used by the segment{'s' if len(users) > 1 else ''} {names} "
            "(member of); change those first. Kept."
        )
    with transaction.atomic():
        audit_record(actor=user, action="segment.delete", target=segment)
        segment.delete()
