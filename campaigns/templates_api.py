from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from campaigns.models import MessageTemplate
from campaigns.template_services import TemplateInvalid, template_create
from kit.api import ApiError, InputSchema, Limit, MessageList, ObjectId, Offset, require_role
from kit.roles import READERS, WRITERS

router = Router(tags=["templates"])


class TemplateIn(InputSchema):
    # The shape here; LINE's message rules and the Liquid checks in the service (a 422).
    name: str = Field(..., min_length=1, max_length=200)
    messages: MessageList = Field(
        ...,
        description="1 to 5 LINE message objects; Liquid in strings.",
    )


class TemplateCreated(Schema):
    id: int


class TemplateOut(Schema):
    id: int
    name: str
    messages: list
    created_at: datetime
    updated_at: datetime


@router.post("/templates", response={201: TemplateCreated})
def create_template(request: HttpRequest, payload: TemplateIn) -> Status:
    require_role(request, *WRITERS)
    try:
        template = template_create(user=request.user, name=payload.name, messages=payload.messages)
    except TemplateInvalid as exc:
        raise ApiError(422, "The template is not valid.", exc.errors) from exc
    return Status(201, {"id": template.pk})


@router.get("/templates", response=list[TemplateOut])
def list_templates(request: HttpRequest, limit: Limit = 100, offset: Offset = 0) -> list:
    """Newest first; page with `limit` (at most 500) and `offset`."""
    require_role(request, *READERS)
    return list(MessageTemplate.objects.all()[offset : offset + limit])


@router.get("/templates/{template_id}", response=TemplateOut)
def get_template(request: HttpRequest, template_id: ObjectId) -> MessageTemplate:
    require_role(request, *READERS)
    template = MessageTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise ApiError(404, "No template has this id.")
    return template
