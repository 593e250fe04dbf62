"""Campaigns over REST: create a draft, review, launch, pause, resume, cancel, test-send, and read
progress and deliveries. Marketers and Admins write; Analysts read."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from audiences.models import Segment
from campaigns import selectors, services
from campaigns.models import Campaign, Delivery, MessageTemplate
from connections.models import Connection
from connections.selectors import connection_by_id_or_name
from kit.api import (
    ApiError,
    AwareDatetime,
    BodyId,
    ErrorOut,
    InputSchema,
    LineId,
    MessageList,
    ObjectId,
    PageNumber,
    list_page,
    require_role,
)
from kit.roles import READERS, WRITERS

router = Router(tags=["campaigns"])
CampaignStatus = Literal[("", *Campaign.Status.values)]
DeliveryStatus = Literal[("", *Delivery.Status.values)]


class CampaignIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=200)
    connection: BodyId | str = Field(..., description="The connection's id or name.")
    segment: BodyId | None = Field(None, description="A segment id (or give `line_ids`).")
    line_ids: list[LineId] | None = Field(
        None, description="Explicit LINE user, group (C…) or room (R…) ids."
    )
    all_following: bool = Field(False, description="Every following contact.")
    template: BodyId | None = Field(None, description="A message template id (or give `messages`).")
    messages: MessageList | None = Field(
        None,
        description="1 to 5 LINE message objects; string fields may hold Liquid.",
    )
    scheduled_at: AwareDatetime | None = None
    send_by: AwareDatetime | None = None
    notification_disabled: bool = False
    frequency_cap_enabled: bool = True


class Created(Schema):
    id: int


class CampaignOut(Schema):
    id: int
    name: str
    status: str
    recipients_total: int
    attempted: int
    sent: int
    failed: int
    skipped: int
    not_sent: int
    pause_reason: str
    send_mode: str
    aggregation_unit: str
    scheduled_at: datetime | None
    send_by: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class TestIn(InputSchema):
    line_id: LineId


class TestOut(Schema):
    ok: bool
    line_id: str
    http_status: int | None
    request_id: str
    error: str
    details: list[dict[str, Any]]
    messages: list[dict[str, Any]]


class DeliveryOut(Schema):
    line_id: str
    status: str
    reason: str
    http_status: int | None
    error_message: str
    error_details: list[Any]
    attempts: int
    request_id: str
    accepted_request_id: str
    first_attempt_at: datetime | None
    finished_at: datetime | None


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    page: int
    page_size: int
    has_next: bool


def _campaign(campaign_id: ObjectId) -> Campaign:
    campaign = Campaign.objects.select_related("connection").filter(pk=campaign_id).first()
    if campaign is None:
        raise ApiError(404, "No campaign has this id.")
    return campaign


def _field_error(field: str, message: str) -> ApiError:
    return ApiError(422, "The campaign is not valid.", [{"field": field, "message": message}])


def _connection(ref: int | str) -> Connection:
    connection = connection_by_id_or_name(ref)
    if connection is None:
        raise _field_error("connection", "No connection has this id or name.")
    return connection


def _audience(payload: CampaignIn) -> dict:
    given = [payload.segment is not None, payload.line_ids is not None, payload.all_following]
    if sum(given) != 1:
        raise _field_error("segment", "Give exactly one of segment, line_ids or all_following.")
    if payload.segment is not None:
        segment = Segment.objects.filter(pk=payload.segment).first()
        if segment is None:
            raise _field_error("segment", "No segment has this id.")
        return {"audience_type": Campaign.Audience.SEGMENT, "segment": segment}
    if payload.line_ids is not None:
        return {"audience_type": Campaign.Audience.EXPLICIT, "explicit_ids": payload.line_ids}
    return {"audience_type": Campaign.Audience.ALL_FOLLOWING}


def _content(payload: CampaignIn) -> dict:
    if (payload.template is None) == (payload.messages is None):
        raise _field_error("template", "Give exactly one of template or messages.")
    if payload.template is not None:
        template = MessageTemplate.objects.filter(pk=payload.template).first()
        if template is None:
            raise _field_error("template", "No template has this id.")
        return {"template": template}
    return {"messages": payload.messages}


@router.post("/campaigns", response={201: Created})
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status:
    require_role(request, *WRITERS)
    try:
        campaign = services.campaign_create(
            user=request.user,
            name=payload.name,
            connection=_connection(payload.connection),
            scheduled_at=payload.scheduled_at,
            send_by=payload.send_by,
            notification_disabled=payload.notification_disabled,
            frequency_cap_enabled=payload.frequency_cap_enabled,
            **_audience(payload),
            **_content(payload),
        )
    except services.CampaignError as exc:
        raise _field_error(_api_field(exc.field), exc.message) from exc
    return Status(201, {"id": campaign.pk})


def _api_field(field: str | None) -> str:
    return {"explicit_ids": "line_ids", None: "body"}.get(field, field)


@router.get("/campaigns", response=list[CampaignOut])
def list_campaigns(
    request: HttpRequest, status: CampaignStatus = "", search: str = ""
) -> list[Campaign]:
    require_role(request, *READERS)
    return list(selectors.campaign_list(search=search, status=status)[:500])


@router.get("/campaigns/{campaign_id}", response=CampaignOut)
def get_campaign(request: HttpRequest, campaign_id: ObjectId) -> Campaign:
    require_role(request, *READERS)
    return _campaign(campaign_id)


@router.get("/campaigns/{campaign_id}/review")
def review_campaign(request: HttpRequest, campaign_id: ObjectId) -> dict:
    """Expected recipients (everyone the launch will attempt: the report's `attempted` if
    nothing changes), `will_fail` of them (a placeholder without value or default), who is
    skipped and why, the quota check, and any problem."""
    require_role(request, *READERS)
    return selectors.campaign_review(campaign=_campaign(campaign_id))


@router.post("/campaigns/{campaign_id}/launch", response={200: CampaignOut, 409: ErrorOut})
def launch_campaign(request: HttpRequest, campaign_id: ObjectId) -> Campaign:
    require_role(request, *WRITERS)
    try:
        return services.campaign_launch(campaign=_campaign(campaign_id), user=request.user)
    except services.LaunchBlocked as exc:
        raise ApiError(
            409,
            "The campaign cannot be launched.",
            [{"field": "launch", "message": reason} for reason in exc.reasons],
        ) from exc


def _transition(request: HttpRequest, campaign_id: ObjectId, action, **kwargs) -> Campaign:
    require_role(request, *WRITERS)
    try:
        return action(campaign=_campaign(campaign_id), user=request.user, **kwargs)
    except services.CampaignError as exc:
        raise ApiError(409, exc.message) from exc


class PauseIn(InputSchema):
    reason: str = Field("", max_length=500)


@router.post("/campaigns/{campaign_id}/pause", response={200: CampaignOut, 409: ErrorOut})
def pause_campaign(request: HttpRequest, campaign_id: ObjectId, payload: PauseIn | None = None):
    reason = payload.reason if payload else ""
    return _transition(request, campaign_id, services.campaign_pause, reason=reason)


@router.post("/campaigns/{campaign_id}/resume", response={200: CampaignOut, 409: ErrorOut})
def resume_campaign(request: HttpRequest, campaign_id: ObjectId) -> Campaign:
    return _transition(request, campaign_id, services.campaign_resume)


@router.post("/campaigns/{campaign_id}/cancel", response={200: CampaignOut, 409: ErrorOut})
def cancel_campaign(request: HttpRequest, campaign_id: ObjectId) -> Campaign:
    return _transition(request, campaign_id, services.campaign_cancel)


@router.delete("/campaigns/{campaign_id}", response={204: None, 409: ErrorOut})
def delete_campaign(request: HttpRequest, campaign_id: ObjectId) -> Status:
    """Drafts only (409 otherwise): a launched campaign is the record of what was sent."""
    _transition(request, campaign_id, services.campaign_delete)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/test", response=TestOut)
def test_campaign(request: HttpRequest, campaign_id: ObjectId, payload: TestIn) -> dict:
    """Sends the campaign's messages, personalized, to one LINE id now (a contact's attributes
    when it is one; otherwise only `line_id`, and defaults apply). Not counted."""
    require_role(request, *WRITERS)
    campaign = _campaign(campaign_id)
    return services.campaign_test_send(
        campaign=campaign,
        contact=selectors.test_recipient(line_id=payload.line_id),
        user=request.user,
        connection=campaign.connection,
    )


@router.get("/campaigns/{campaign_id}/deliveries", response=DeliveryPage)
def list_deliveries(
    request: HttpRequest, campaign_id: ObjectId, status: DeliveryStatus = "", page: PageNumber = 1
):
    """One row per recipient, 100 a page, in snapshot order; filter by `status`."""
    require_role(request, *READERS)
    qs = selectors.campaign_deliveries(campaign=_campaign(campaign_id), status=status)
    return list_page(qs, page=page)
