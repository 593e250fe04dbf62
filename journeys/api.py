"""Journeys over REST: create a draft, edit, activate, pause, archive, delete, read the report
and the run log, and trigger an `api` journey for one person (a transactional send such as an
order receipt). Marketers and Admins write; Analysts read."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from audiences.api import PersonIn
from audiences.custom_events import MAX_PROPERTIES_BYTES, ContactNotFound
from connections.models import Connection
from connections.selectors import connection_by_id_or_name
from journeys import selectors, services
from journeys.definition import (
    FOLLOW_WHEN,
    KEYWORD_CHARS,
    KEYWORD_MATCH,
    MAX_DAILY_LIMIT,
    MAX_KEYWORDS,
    POSTBACK_DATA_CHARS,
    POSTBACK_MATCH,
    JourneyInvalid,
)
from journeys.models import Journey, JourneyRun
from kit.api import (
    ApiError,
    BodyId,
    ErrorOut,
    InputSchema,
    MessageList,
    ObjectId,
    PageNumber,
    json_int,
    list_page,
    require_role,
)
from kit.roles import READERS, WRITERS

router = Router(tags=["journeys"])
JourneyStatus = Literal[("", *Journey.Status.values)]
RunStatus = Literal[("", *JourneyRun.Status.values)]
DailyLimit = json_int(ge=1, le=MAX_DAILY_LIMIT)


def _trigger_shape(kind: str, required: tuple[str, ...] = (), **options: dict) -> dict:
    return {
        "type": "object",
        "title": kind,
        "properties": {"type": {"enum": [kind]}, **options},
        "required": ["type", *required],
        "additionalProperties": False,
    }


# The shapes a trigger takes (docs/design.md §11). The schema states them for the reader; the
# journey's definition checks them, so that a problem is a 422 naming its place
# (`trigger.keywords[0]`), as for steps' messages.
TRIGGER_SHAPES = [
    _trigger_shape("follow", when={"enum": list(FOLLOW_WHEN), "default": "any"}),
    _trigger_shape(
        "keyword",
        ("keywords",),
        keywords={
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": KEYWORD_CHARS},
            "minItems": 1,
            "maxItems": MAX_KEYWORDS,
        },
        match={"enum": list(KEYWORD_MATCH), "default": "exact"},
    ),
    _trigger_shape(
        "postback",
        ("data",),
        data={"type": "string", "minLength": 1, "maxLength": POSTBACK_DATA_CHARS},
        match={"enum": list(POSTBACK_MATCH), "default": "exact"},
    ),
    _trigger_shape("join"),
    _trigger_shape("event", ("name",), name={"type": "string", "minLength": 1, "maxLength": 100}),
    _trigger_shape("api"),
]
TRIGGER_DOC = (
    "What starts the journey: follow (`when`: new, unblocked or any), keyword (`keywords`, "
    "`match`: exact or contains, case-insensitive after NFKC), postback (`data`, `match`: exact "
    "or prefix), join (the bot added to a group or room), event (`name`: an event sent to "
    "POST /events) or api (POST /journeys/{id}/trigger)."
)
ENTRY_SHAPES = [
    {"enum": ["once", "every_time"]},
    {
        "type": "object",
        "properties": {"at_most_every": {"type": "string", "pattern": "^[0-9]+[hd]$"}},
        "required": ["at_most_every"],
        "additionalProperties": False,
    },
]
ENTRY_DOC = (
    '"once" (a contact enters at most once ever), "every_time", or {"at_most_every": "30d"} '
    "(hours or days). A contact in a run of the journey does not enter again until it ends."
)
CONDITIONS_DOC = (
    "Who may enter: a rule tree in the format of a segment's `rules` (see POST /segments); "
    "null for everyone."
)
TRANSACTIONAL_DOC = (
    "Sent to opted-out contacts and past the frequency cap (an order receipt); event, api and "
    "postback journeys only."
)
DAILY_LIMIT_DOC = "Sends per contact per day, against loops."
STEPS_DOC = "Send steps, run in order."


class StepIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    type: Literal["send"]
    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="The step's id; by default its position (1, 2, …).",
    )
    template: BodyId | None = Field(None, description="A message template id (or `messages`).")
    messages: MessageList | None = Field(
        None, description="1 to 5 LINE message objects; string fields may hold Liquid."
    )


class JourneyIn(InputSchema):
    """LINE's message rules, Liquid and the trigger's options are checked by the journey's
    definition: a 422 naming each field."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    connection: BodyId | str = Field(..., description="The connection's id or name.")
    trigger: dict[str, Any] = Field(
        ...,
        description=TRIGGER_DOC,
        json_schema_extra={"oneOf": TRIGGER_SHAPES, "examples": [{"type": "api"}]},
    )
    entry_conditions: dict[str, Any] | None = Field(None, description=CONDITIONS_DOC)
    entry: Any = Field("once", description=ENTRY_DOC, json_schema_extra={"oneOf": ENTRY_SHAPES})
    transactional: bool = Field(False, description=TRANSACTIONAL_DOC)
    daily_limit: DailyLimit = Field(3, description=DAILY_LIMIT_DOC)
    steps: list[StepIn] = Field(..., description=STEPS_DOC)


class JourneyPatch(InputSchema):
    """Only the fields given change (null clears `entry_conditions`). An active journey gets a
    new version at once; runs already in finish with the version they entered."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(None, min_length=1, max_length=200)
    connection: BodyId | str = Field(None, description="The connection's id or name.")
    trigger: dict[str, Any] = Field(
        None, description=TRIGGER_DOC, json_schema_extra={"oneOf": TRIGGER_SHAPES}
    )
    entry_conditions: dict[str, Any] | None = Field(None, description=CONDITIONS_DOC)
    entry: Any = Field(None, description=ENTRY_DOC, json_schema_extra={"oneOf": ENTRY_SHAPES})
    transactional: bool = Field(None, description=TRANSACTIONAL_DOC)
    daily_limit: DailyLimit = Field(None, description=DAILY_LIMIT_DOC)
    steps: list[StepIn] = Field(None, description=STEPS_DOC)


class Created(Schema):
    id: int


class JourneyOut(Schema):
    id: int
    name: str
    connection: int
    connection_name: str
    status: str
    trigger: dict[str, Any]
    trigger_type: str
    trigger_summary: str
    entry_conditions: dict[str, Any] | None
    entry: str | dict[str, Any]
    transactional: bool
    daily_limit: int
    steps: list[dict[str, Any]]
    version: int | None = Field(
        ..., description="The number of the version new entries get; null before activation."
    )
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None

    @staticmethod
    def resolve_connection(journey: Journey) -> int:
        return journey.connection_id

    @staticmethod
    def resolve_connection_name(journey: Journey) -> str:
        return journey.connection.name

    @staticmethod
    def resolve_trigger_summary(journey: Journey) -> str:
        return selectors.trigger_summary(journey)

    @staticmethod
    def resolve_version(journey: Journey) -> int | None:
        return journey.current_version.number if journey.current_version else None


class JourneyPage(Schema):
    items: list[JourneyOut]
    page: int
    page_size: int
    has_next: bool


class ReasonCount(Schema):
    reason: str
    label: str = ""
    count: int


class StepFigures(Schema):
    step: int
    attempted: int
    sent: int
    failed: int
    skipped: int
    pending: int
    replied: int
    pushed: int


class ReportOut(Schema):
    triggered: int
    entered: int
    in_progress: int
    skipped: int
    skipped_by_reason: list[ReasonCount]
    attempted: int
    sent: int
    replied: int = Field(..., description="Sent as replies: free of the monthly quota.")
    pushed: int
    failed: int
    failed_by_reason: list[ReasonCount]
    steps: list[StepFigures]


class SendOut(Schema):
    step: int
    status: str
    via: str = Field(..., description='"reply", "push", or "" before an attempt.')
    reason: str
    request_id: str
    http_status: int | None
    error_message: str
    attempts: int
    first_attempt_at: datetime | None
    finished_at: datetime | None


class RunOut(Schema):
    id: int
    line_id: str
    status: str
    reason: str
    error: str
    trigger_type: str
    created_at: datetime
    finished_at: datetime | None
    sends: list[SendOut]

    @staticmethod
    def resolve_sends(run: JourneyRun) -> list:
        return sorted(run.sends.all(), key=lambda send: send.step)


class RunPage(Schema):
    items: list[RunOut]
    page: int
    page_size: int
    has_next: bool


class RunOutcomeOut(Schema):
    id: int
    journey: int
    status: Literal[tuple(JourneyRun.Status.values)]
    reason: str = Field(..., description="Why it was skipped or failed.")
    via: str = Field(..., description='The first send\'s API: "reply", "push", or "".')
    line_request_id: str = Field(..., description="LINE's x-line-request-id of the first send.")
    error: str
    created_at: datetime
    finished_at: datetime | None


class TriggerIn(PersonIn):
    model_config = ConfigDict(extra="forbid")  # a mistyped idempotency_key must not be dropped
    data: dict[str, Any] = Field(
        default_factory=dict,
        description=f"What the messages use as `{{{{ data.* }}}}` (a JSON object of at most "
        f"{MAX_PROPERTIES_BYTES // 1024} KB).",
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[ -~]+$",
        description="Printable ASCII. The same key again answers with the same run and sends "
        "nothing more; LINE's retry key for the send is derived from it.",
    )


class TriggerAccepted(Schema):
    run: int


def _journey(journey_id: int) -> Journey:
    journey = (
        Journey.objects.select_related("connection", "current_version")
        .filter(pk=journey_id)
        .first()
    )
    if journey is None:
        raise ApiError(404, "No journey has this id.")
    return journey


def _invalid(exc: JourneyInvalid) -> ApiError:
    errors = [{"field": p.field, "message": p.message} for p in exc.problems]
    return ApiError(422, "The journey is not valid.", errors)


def _connection(ref: int | str) -> Connection:
    connection = connection_by_id_or_name(ref)
    if connection is None:
        raise ApiError(
            422,
            "The journey is not valid.",
            [{"field": "connection", "message": "No connection has this id or name."}],
        )
    return connection


def _fields(payload: JourneyIn | JourneyPatch) -> dict[str, Any]:
    """The fields a PATCH gave (all of a POST's), as the services take them."""
    given = isinstance(payload, JourneyPatch)
    fields = payload.model_dump(exclude_unset=given, exclude={"steps", "connection"})
    if "steps" in payload.model_fields_set:
        fields["steps"] = [step.model_dump(exclude_none=True) for step in payload.steps]
    if "connection" in payload.model_fields_set:
        fields["connection"] = _connection(payload.connection)
    return fields


@router.post("/journeys", response={201: Created})
def create_journey(request: HttpRequest, payload: JourneyIn) -> Status:
    """A draft: nothing triggers it until it is activated."""
    require_role(request, *WRITERS)
    try:
        journey = services.journey_create(user=request.user, **_fields(payload))
    except JourneyInvalid as exc:
        raise _invalid(exc) from exc
    return Status(201, {"id": journey.pk})


@router.get("/journeys", response=JourneyPage)
def list_journeys(request: HttpRequest, status: JourneyStatus = "", page: PageNumber = 1) -> dict:
    """Last changed first, 100 a page; filter by `status`."""
    require_role(request, *READERS)
    return list_page(selectors.journeys_list(status=status), page=page)


# Before /journeys/{journey_id}/…, so that "runs" is never read as a journey's id.
@router.get("/journeys/runs/{run_id}", response=RunOutcomeOut)
def get_run(request: HttpRequest, run_id: ObjectId) -> dict:
    """One run's outcome: queued until its sends are final, then sent, failed or skipped."""
    require_role(request, *READERS)
    run = JourneyRun.objects.filter(pk=run_id).first()
    if run is None:
        raise ApiError(404, "No journey run has this id.")
    return selectors.run_outcome(run)


@router.get("/journeys/{journey_id}", response=JourneyOut)
def get_journey(request: HttpRequest, journey_id: ObjectId) -> Journey:
    require_role(request, *READERS)
    return _journey(journey_id)


@router.patch("/journeys/{journey_id}", response={200: JourneyOut, 409: ErrorOut})
def update_journey(request: HttpRequest, journey_id: ObjectId, payload: JourneyPatch) -> Journey:
    """An archived journey cannot be edited (409)."""
    require_role(request, *WRITERS)
    journey = _journey(journey_id)
    try:
        return services.journey_update(journey=journey, user=request.user, **_fields(payload))
    except JourneyInvalid as exc:
        raise _invalid(exc) from exc
    except services.JourneyError as exc:
        raise ApiError(exc.status, exc.message) from exc


@router.delete("/journeys/{journey_id}", response={204: None, 409: ErrorOut})
def delete_journey(request: HttpRequest, journey_id: ObjectId) -> Status:
    """Only a journey nobody entered; one with runs keeps its report: archive it instead (409)."""
    require_role(request, *WRITERS)
    try:
        services.journey_delete(journey=_journey(journey_id), user=request.user)
    except services.JourneyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    return Status(204, None)


def _transition(request: HttpRequest, journey_id: int, action) -> Journey:
    require_role(request, *WRITERS)
    try:
        return action(journey=_journey(journey_id), user=request.user)
    except JourneyInvalid as exc:
        raise _invalid(exc) from exc
    except services.JourneyError as exc:
        raise ApiError(exc.status, exc.message) from exc


@router.post(
    "/journeys/{journey_id}/activate", response={200: JourneyOut, 409: ErrorOut, 422: ErrorOut}
)
def activate_journey(request: HttpRequest, journey_id: ObjectId) -> Journey:
    """A draft or paused journey starts taking entries, with its definition as it is now (a
    new version when it changed)."""
    return _transition(request, journey_id, services.journey_activate)


@router.post("/journeys/{journey_id}/pause", response={200: JourneyOut, 409: ErrorOut})
def pause_journey(request: HttpRequest, journey_id: ObjectId) -> Journey:
    """No new entries; runs already in finish."""
    return _transition(request, journey_id, services.journey_pause)


@router.post("/journeys/{journey_id}/archive", response={200: JourneyOut, 409: ErrorOut})
def archive_journey(request: HttpRequest, journey_id: ObjectId) -> Journey:
    """Stopped for good and kept with its report."""
    return _transition(request, journey_id, services.journey_archive)


@router.get("/journeys/{journey_id}/report", response=ReportOut)
def journey_report(request: HttpRequest, journey_id: ObjectId) -> dict:
    """Triggered, entered, skipped by reason, sent (replied free / pushed), failed by reason,
    and Attempted / Failed / Successfully sent per send step."""
    require_role(request, *READERS)
    return selectors.journey_report(_journey(journey_id))


@router.get("/journeys/{journey_id}/runs", response=RunPage)
def list_runs(
    request: HttpRequest, journey_id: ObjectId, status: RunStatus = "", page: PageNumber = 1
) -> dict:
    """The run log, newest first, 100 a page, each run with its sends; filter by `status`."""
    require_role(request, *READERS)
    return list_page(selectors.journey_runs(journey=_journey(journey_id), status=status), page=page)


@router.post(
    "/journeys/{journey_id}/trigger",
    response={202: TriggerAccepted, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def trigger_journey(request: HttpRequest, journey_id: ObjectId, payload: TriggerIn) -> Status:
    """One person enters an active `api` journey with `data`: 202 with the run, whose outcome
    GET /journeys/runs/{id} tells. A `line_id` that is not a contact yet becomes one; an
    `external_id` nobody has is a 404; a journey that is not active, or not an `api` one, a 409."""
    require_role(request, *WRITERS)
    try:
        run, _ = services.journey_trigger(
            journey=_journey(journey_id),
            data=payload.data,
            line_id=payload.line_id,
            external_id=payload.external_id,
            idempotency_key=payload.idempotency_key,
            actor=request.user,
        )
    except ContactNotFound as exc:
        raise ApiError(404, "No contact has this external_id.") from exc
    except JourneyInvalid as exc:
        raise _invalid(exc) from exc
    except services.JourneyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    return Status(202, {"run": run.pk})
