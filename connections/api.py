from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from connections import selectors, services
from connections.models import LINE_MULTICAST_RATE, LINE_PUSH_RATE, Connection
from kit.api import ApiError, ErrorOut, InputSchema, ObjectId, json_int, require_role
from kit.roles import ADMIN, READERS, has_role

router = Router(tags=["connections"])
ONE_LINE = r"^[^\r\n]*$"
PushRate = json_int(ge=1, le=LINE_PUSH_RATE)
MulticastRate = json_int(ge=1, le=LINE_MULTICAST_RATE)


class ConnectionIn(InputSchema):
    name: str = Field(min_length=1, max_length=100)
    channel_access_token: str = Field(min_length=1, max_length=1000, pattern=ONE_LINE)
    channel_secret: str = Field(min_length=1, max_length=200, pattern=ONE_LINE)
    api_base_url: str | None = Field(default=None, max_length=300, pattern=r"^https?://\S+$")
    push_rate_limit: PushRate | None = Field(
        default=None, description="Requests per second; LINE's by default."
    )
    multicast_rate_limit: MulticastRate | None = Field(
        default=None, description="Requests per second."
    )
    confirm_duplicate: bool = Field(
        default=False,
        description="Add the channel even when a connection to it (same bot user id) exists; "
        "without it that is a 409.",
    )


class ConnectionOut(Schema):
    """Names and status only: never the token or the secret, even masked."""

    id: int
    name: str
    status: str
    last_error: str
    bot_display_name: str
    basic_id: str
    is_sandbox: bool
    quota_limit: int | None
    quota_used: int | None
    quota_remaining: int | None
    webhook_url: str | None = Field(description="Only for roles that open connections (Admin).")
    push_rate_limit: int
    multicast_rate_limit: int


def _out(request: HttpRequest, connection: Connection) -> dict:
    return {
        "id": connection.pk,
        "name": connection.name,
        "status": connection.status,
        "last_error": connection.last_error,
        "bot_display_name": connection.bot_display_name,
        "basic_id": connection.basic_id,
        "is_sandbox": connection.is_sandbox,
        "quota_limit": connection.quota_limit,
        "quota_used": connection.quota_used,
        "quota_remaining": connection.quota_remaining,
        "webhook_url": selectors.webhook_url(connection, request)
        if has_role(request.user, ADMIN)
        else None,
        "push_rate_limit": connection.push_rate_limit,
        "multicast_rate_limit": connection.multicast_rate_limit,
    }


@router.get("/connections", response=list[ConnectionOut])
def list_connections(request: HttpRequest) -> list[dict]:
    require_role(request, *READERS)
    return [_out(request, c) for c in selectors.connection_list()]


@router.get("/connections/{connection_id}", response=ConnectionOut)
def get_connection(request: HttpRequest, connection_id: ObjectId) -> dict:
    require_role(request, *READERS)
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise ApiError(404, f"No connection with id {connection_id}.")
    return _out(request, connection)


@router.post("/connections", response={201: ConnectionOut, 409: ErrorOut})
def create_connection(request: HttpRequest, payload: ConnectionIn) -> Status:
    require_role(request, ADMIN)
    try:
        connection = services.connection_create(actor=request.user, **payload.model_dump())
    except services.ConnectionVerifyError as exc:
        raise ApiError(422, exc.message, [{"field": exc.field, "message": exc.message}]) from None
    except services.ConnectionDuplicateError as exc:
        confirm = f"Send confirm_duplicate: true to add it anyway (existing id {exc.existing.pk})."
        raise ApiError(
            409, exc.message, [{"field": "confirm_duplicate", "message": confirm}]
        ) from None
    return Status(201, _out(request, connection))
