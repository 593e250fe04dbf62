"""Contacts and segments over REST. Marketers and Admins write; Analysts read."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import model_validator

from audiences.custom_events import ContactNotFound, custom_event_record
from audiences.models import Contact, Segment
from audiences.rules import RuleError
from audiences.selectors import contact_by_line_id, segment_contacts, segment_count
from audiences.services import (
    BULK_MAX,
    ContactError,
    ContactFields,
    contact_delete,
    contact_upsert,
    contacts_bulk_upsert,
    segment_create,
)
from kit.api import (
    ApiError,
    ErrorOut,
    InputSchema,
    LineId,
    ObjectId,
    PageNumber,
    list_page,
    require_role,
)
from kit.roles import READERS, WRITERS

router = Router(tags=["audiences"])

RULES_DOC = (
    'A rule tree: {"all": [...]} or {"any": [...]}, whose items are conditions '
    '{"field", "op", "value"} or one level of nested all/any groups. field: attributes.<key>, '
    "line_id, display_name, follow_status, kind, source, opted_out, created_at, "
    "last_interaction_at or segment. op: exists, not_exists, eq, neq, contains, in, gt, gte, lt, "
    "lte, within_last (a whole number of hours or days: 36h, 90d), member_of and not_member_of "
    "(field segment, value a segment id). Numbers compare as numbers, ISO dates (YYYY-MM-DD) "
    "as dates. field event.<name> (an event sent to POST /events) takes within_last or "
    "not_within_last: whether the contact did it in that span."
)
RULES_EXAMPLE = {
    "all": [
        {"field": "attributes.plan", "op": "eq", "value": "gold"},
        {"field": "follow_status", "op": "eq", "value": "following"},
        {
            "any": [
                {"field": "attributes.age", "op": "gte", "value": 30},
                {"field": "last_interaction_at", "op": "within_last", "value": "30d"},
            ]
        },
    ]
}


class ContactIn(ContactFields):
    """The body of PUT /contacts/{line_id}; each bulk item is checked by the same model."""


class ContactOut(Schema):
    line_id: str
    merged_line_ids: list[str] = Field(
        ...,
        description="Earlier line ids of this contact (merged or replaced); GET finds it by them.",
    )
    kind: str
    display_name: str
    attributes: dict[str, Any]
    external_id: str | None
    follow_status: str
    opted_out: bool
    last_interaction_at: datetime | None
    source: str
    created_at: datetime
    updated_at: datetime


class ContactPage(Schema):
    items: list[ContactOut]
    page: int
    page_size: int
    has_next: bool


class BulkIn(InputSchema):
    contacts: list[Any] = Field(
        ...,
        max_length=BULK_MAX,
        description=f"Up to {BULK_MAX:,} objects {{line_id, display_name?, attributes?, "
        "external_id?, opted_out?}}, each checked as PUT checks its body; a bad item is listed "
        "in `rejected` and the others are still saved.",
    )


class Rejected(Schema):
    index: int
    line_id: Any
    reason: str


class BulkOut(Schema):
    created: int
    updated: int
    rejected: list[Rejected]


class SegmentIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    rules: dict[str, Any] = Field(
        ..., description=RULES_DOC, json_schema_extra={"examples": [RULES_EXAMPLE]}
    )


class SegmentCreated(Schema):
    id: int


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    rules: dict[str, Any] = Field(..., description=RULES_DOC)
    created_at: datetime
    updated_at: datetime


class SegmentCountOut(Schema):
    count: int
    expected_recipients: int = Field(
        ..., description="Contacts a campaign would attempt: not opted out, not unfollowed."
    )


def _contact(line_id: str, *, merged: bool = False) -> Contact:
    if merged:
        contact = contact_by_line_id(line_id=line_id)
    else:
        contact = Contact.objects.filter(line_id=line_id).first()
    if contact is None:
        raise ApiError(404, "No contact has this line id.")
    return contact


def _segment(segment_id: ObjectId) -> Segment:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise ApiError(404, "No segment has this id.")
    return segment


def _rule_error(exc: RuleError) -> ApiError:
    return ApiError(
        422, "The segment rules are not valid.", [{"field": exc.field, "message": exc.message}]
    )


class PersonIn(InputSchema):
    """A body about one person: by LINE id or by your own id (the events API, a journey's
    trigger)."""

    # One of line_id and external_id names the person (the validator below says so in words).
    model_config = {
        **InputSchema.model_config,
        "json_schema_extra": {
            "oneOf": [
                {"required": [key], "properties": {key: {"type": "string"}}}
                for key in ("line_id", "external_id")
            ]
        },
    }
    line_id: LineId | None = Field(
        None, description="The person's LINE user id; a contact is created if it is new."
    )
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Your own id for the person (set on the contact); 404 if no contact has it.",
    )

    @model_validator(mode="after")
    def _one_person(self) -> "PersonIn":
        if (self.line_id is None) == (self.external_id is None):
            raise ValueError("give the person by line_id or by external_id (one of them).")
        return self


class EventIn(PersonIn):
    name: str = Field(..., min_length=1, max_length=100, examples=["order_shipped"])
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Anything the event carries (at most 16 KB of JSON): usable in messages.",
    )
    id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Your id for this event: the same id sent again is stored once.",
    )


class EventAccepted(Schema):
    id: int


@router.post("/events", response={202: EventAccepted, 404: ErrorOut, 422: ErrorOut})
def post_event(request: HttpRequest, payload: EventIn) -> Status:
    """An event from your systems about one person: stored on the contact's timeline, usable in
    segments (event.<name> within_last), and starting the journeys that wait for it."""
    require_role(request, *WRITERS)
    try:
        event, _ = custom_event_record(
            name=payload.name,
            properties=payload.properties,
            line_id=payload.line_id,
            external_id=payload.external_id,
            idempotency_id=payload.id,
            actor=request.user,
        )
    except ContactNotFound as exc:
        raise ApiError(404, "No contact has this external_id.") from exc
    except ContactError as exc:
        raise ApiError(
            422, "The event is not valid.", [{"field": exc.field, "message": exc.message}]
        ) from exc
    return Status(202, {"id": event.pk})


@router.post("/contacts/bulk", response=BulkOut)
def bulk_contacts(request: HttpRequest, payload: BulkIn) -> dict:
    # Declared before /contacts/{line_id} so that "bulk" is not read as a line id.
    require_role(request, *WRITERS)
    return contacts_bulk_upsert(contacts=payload.contacts, actor=request.user)


@router.put("/contacts/{line_id}", response={200: ContactOut, 201: ContactOut})
def put_contact(request: HttpRequest, line_id: LineId, payload: ContactIn) -> Status:
    require_role(request, *WRITERS)
    try:
        contact, created = contact_upsert(
            line_id=line_id, actor=request.user, **payload.model_dump()
        )
    except ContactError as exc:
        raise ApiError(
            422, "The contact is not valid.", [{"field": exc.field, "message": exc.message}]
        ) from exc
    return Status(201 if created else 200, contact)


@router.get("/contacts/{line_id}", response=ContactOut)
def get_contact(request: HttpRequest, line_id: LineId) -> Contact:
    """Also finds a contact by an earlier line id (see `merged_line_ids`); the body then shows
    its current one."""
    require_role(request, *READERS)
    return _contact(line_id, merged=True)


@router.delete("/contacts/{line_id}", response={204: None})
def delete_contact(request: HttpRequest, line_id: LineId) -> Status:
    require_role(request, *WRITERS)
    contact_delete(contact=_contact(line_id), actor=request.user)
    return Status(204, None)


@router.get("/contacts", response={200: ContactPage, 404: ErrorOut})
def list_contacts(
    request: HttpRequest, segment: ObjectId | None = None, page: PageNumber = 1
) -> dict:
    """Newest first, 100 a page. With `segment`, only the contacts that segment matches."""
    require_role(request, *READERS)
    if segment is not None:
        try:
            found = _segment(segment)
            qs = segment_contacts(rules=found.rules, segment_id=found.pk)
        except RuleError as exc:
            raise _rule_error(exc) from exc
    else:
        qs = Contact.objects.all()
    return list_page(qs.order_by("-id"), page=page)


@router.post("/segments", response={201: SegmentCreated})
def create_segment(request: HttpRequest, payload: SegmentIn) -> Status:
    require_role(request, *WRITERS)
    try:
        segment = segment_create(
            name=payload.name,
            rules=payload.rules,
            description=payload.description,
            user=request.user,
        )
    except RuleError as exc:
        raise _rule_error(exc) from exc
    return Status(201, {"id": segment.pk})


@router.get("/segments", response=list[SegmentOut])
def list_segments(request: HttpRequest) -> list[Segment]:
    require_role(request, *READERS)
    return list(Segment.objects.all()[:1000])


@router.get("/segments/{segment_id}", response=SegmentOut)
def get_segment(request: HttpRequest, segment_id: ObjectId) -> Segment:
    require_role(request, *READERS)
    return _segment(segment_id)


@router.get("/segments/{segment_id}/count", response=SegmentCountOut)
def count_segment(request: HttpRequest, segment_id: ObjectId) -> dict:
    require_role(request, *READERS)
    try:
        return segment_count(segment=_segment(segment_id))
    except RuleError as exc:
        raise _rule_error(exc) from exc
