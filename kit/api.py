"""The REST API at /api/v1/: bearer tokens, role checks and one error format for every app."""

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import wraps
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

from kit import input_guard
from kit.roles import has_role
from kit.services import api_token_authenticate
from lineapi import MAX_MESSAGES, TOO_MANY_MESSAGES, normalize_line_id, strictjson

logger = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_authenticate(raw=token)
        if user is not None:
            request.user = user
        return user


class BrowserSession(SessionAuth):
    """The dashboard's own session (with its CSRF check), for requests that send no token.
    A request with a wrong token, or with no signed-in session at all, is a 401, not a CSRF
    failure: the CSRF check guards what a session cookie could do, and there is none."""

    def __call__(self, request: HttpRequest):
        if "HTTP_AUTHORIZATION" in request.META or not request.user.is_authenticated:
            return None
        return super().__call__(request)


class ApiError(Exception):
    """Raised by endpoints for a 4xx with optional per-field errors."""

    def __init__(self, status: int, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []


def _require_time_zone(value: datetime) -> datetime:
    # A naive time means a different instant on every server; refuse it rather than guess.
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "naive_datetime", "include a time zone offset, e.g. 2030-01-01T09:00:00+09:00"
        )
    return value


# The one datetime type for API input: ISO 8601 with a time zone offset (or Z). Not strict: in a
# strict body it still comes as a string.
AwareDatetime = Annotated[datetime, Strict(False), AfterValidator(_require_time_zone)]


class InputSchema(Schema):
    """A request body, taken as its schema states it: 0 is not false and "5" is not 5."""

    model_config = ConfigDict(strict=True)


# A LINE user, group or room id; one pasted in another case is taken as LINE writes it.
LINE_ID_PATTERN = r"^[UCRucr][0-9a-fA-F]{32}$"
LineId = Annotated[
    str,
    Field(pattern=LINE_ID_PATTERN, description="U, C or R and 32 hex digits (a LINE id)."),
    AfterValidator(normalize_line_id),
]
ObjectId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _json_integer(value: object) -> object:
    # JSON Schema's integer: 5 and 5.0, but not "5" or true (a strict body refuses those).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def json_int(*, ge: int, le: int) -> Any:
    """An integer in a request body (InputSchema); ObjectId is for path and query parameters.
    The bounds come first so that the document states them."""
    return Annotated[int, Field(ge=ge, le=le), Strict(False), BeforeValidator(_json_integer)]


BodyId = json_int(ge=1, le=2**63 - 1)


def _at_most_max_messages(messages: list) -> list:
    if len(messages) > MAX_MESSAGES:
        raise PydanticCustomError("too_long", TOO_MANY_MESSAGES)
    return messages


# 1 to 5 message objects: the bound is in the document, the refusal says LINE's words.
MessageList = Annotated[
    list[dict[str, Any]],
    Field(min_length=1, json_schema_extra={"maxItems": MAX_MESSAGES}),
    AfterValidator(_at_most_max_messages),
]


# Paging parameters, bounded so that a huge number is a 400 naming it rather than an OFFSET the
# database cannot hold (a 500). 10,000,000 rows deep is past any list this product keeps.
MAX_OFFSET = 10_000_000
PAGE_SIZE = 100
PageNumber = Annotated[int, Field(ge=1, le=MAX_OFFSET // PAGE_SIZE)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Field(ge=1, le=500)]


def list_page(rows: Sequence | QuerySet, *, page: int) -> dict:
    """The body of a paged list: `items` (PAGE_SIZE of them), `page`, `page_size`, `has_next`
    (one row more is read to know it, rather than a count of them all)."""
    start = (page - 1) * PAGE_SIZE
    items = list(rows[start : start + PAGE_SIZE + 1])
    return {
        "items": items[:PAGE_SIZE],
        "page": page,
        "page_size": PAGE_SIZE,
        "has_next": len(items) > PAGE_SIZE,
    }


def require_role(request: HttpRequest, *roles: str) -> None:
    if not has_role(request.user, *roles):
        raise ApiError(403, "Your role does not allow this action.")


class InvalidJsonBody(ValueError):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


# Bulk bodies check each item themselves: a bad item is rejected and the others are saved.
PER_ITEM_BODIES = ("/api/v1/contacts/bulk",)


class StrictJsonParser(Parser):
    """Bodies are JSON as JSON defines it: NaN, Infinity or 1e999 is a 400, never a 500 from
    the database that cannot store them; so is a NUL in any string (input_guard)."""

    def parse_body(self, request: HttpRequest):
        try:
            if request.path_info.rstrip("/") in PER_ITEM_BODIES:
                return strictjson.loads(request.body)
            return input_guard.loads(request.body)
        except input_guard.NulInJson as exc:
            raise InvalidJsonBody(f"The body is not accepted: {exc}", exc.path or "body") from exc
        except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
            raise InvalidJsonBody(f"The body is not valid JSON: {exc}") from exc


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    """The one error body under /api/v1/."""

    detail: str
    errors: list[FieldErrorOut]


# The answers every operation can give, documented once here rather than on each endpoint:
# which of them apply follows from the operation's shape (a body, a path parameter).
_ALWAYS = {
    "400": "The request is not valid: `errors` names each field.",
    "401": "No credentials, or a token that is unknown, revoked or expired.",
    "403": "The user's role does not allow this action.",
}
_WITH_PATH_PARAMETER = {"404": "Nothing has this id."}
_WITH_BODY = {
    "413": "The request body is over the upload limit.",
    "422": "The body has the documented shape but its content is refused by a rule a schema "
    "cannot state (an id that refers to nothing, LINE's message rules, credentials LINE refused); "
    "`errors` names each field.",
}


def _document_errors(document: dict) -> None:
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    document.setdefault("components", {}).setdefault("schemas", {}).update(
        {name: schema for name, schema in _error_component_schemas().items()}
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            statuses = dict(_ALWAYS)
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                statuses |= _WITH_PATH_PARAMETER
            if "requestBody" in operation:
                statuses |= _WITH_BODY
            # Ninja keys declared statuses by int; JSON keys are strings, and "422" beside 422
            # would be a duplicate key that Swagger UI's parser refuses.
            responses = {str(k): v for k, v in operation.get("responses", {}).items()}
            operation["responses"] = responses
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )


def _error_component_schemas() -> dict:
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "ErrorOut": schema}


class LinecampaignsApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        _document_errors(document)
        return document


api = LinecampaignsApi(
    title="linecampaigns API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), BrowserSession()],
    docs_url="/docs",
    parser=StrictJsonParser(),
)


def _error(request: HttpRequest, status: int, detail: str, errors=None) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status, exc.detail, exc.errors)


def _field_name(loc) -> str:
    """("body", "payload", "name") -> "name"; ("query", "page") -> "page"."""
    loc = [str(part) for part in loc]
    return ".".join(loc[2:] if loc[:1] == ["body"] else loc[1:]) or "body"


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"field": _field_name(err.get("loc", [])), "message": err.get("msg", "invalid")}
        for err in exc.errors
    ]
    return _error(request, 400, "The request is not valid.", errors)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "Authentication required: send 'Authorization: Bearer <token>'.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = f"larger than the limit of {limit:,} bytes ({limit / 2**20:.3g} MB)"
    return _error(
        request,
        413,
        f"The request body is {message}; send it in smaller requests.",
        [{"field": "body", "message": message}],
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found.")


@api.exception_handler(Exception)
def _internal_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The traceback goes to the log only: a response could carry data or secrets.
    logger.exception("Unexpected error in the API: %s %s", request.method, request.path)
    return _error(request, 500, "Internal error.")


def unknown_path(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any /api/v1/ path no endpoint has: the API's JSON 404, not the dashboard's page."""
    detail = f"No endpoint at {request.path}; see /api/v1/docs."
    return JsonResponse({"detail": detail, "errors": []}, status=404)


def api_authenticated(view: Callable) -> Callable:
    """For the OpenAPI schema, which ninja serves outside its operations: the same bearer token
    or session as every endpoint, and the same JSON 401 without one."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not any(auth(request) for auth in api.auth):
            return _auth_error(request, AuthenticationError())
        return view(request, *args, **kwargs)

    return wrapped


def json_method_not_allowed(view: Callable) -> Callable:
    """Wraps an API path's view so that a method it does not take is a JSON 405 (ninja answers
    that with plain text)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        detail = f"{request.method} is not allowed here; use {allowed}."
        json = JsonResponse({"detail": detail, "errors": []}, status=405)
        json["Allow"] = allowed
        return json

    return wrapped


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, InvalidJsonBody):  # ninja wraps the parser's error
        detail, field = str(exc.__cause__), exc.__cause__.field
        return _error(request, 400, detail, [{"field": field, "message": detail}])
    return _error(request, exc.status_code, str(exc))
