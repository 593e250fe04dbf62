"""One input layer for what no database column stores: the NUL character (U+0000).

PostgreSQL refuses it in text and jsonb, so a NUL that reached a query or a save was a 500.
`RefuseNulMiddleware` refuses it in the path, the query string and form fields of every request
(a 400 naming the field: JSON under /api/, the product's error page elsewhere); `loads` refuses
it inside JSON (API bodies, JSON typed into forms), where it arrives escaped as \\u0000.
Webhook bodies are left alone: a LINE delivery is stored whatever it holds (see
connections/services.py)."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from lineapi import strictjson

NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"
_FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_path(value: Any) -> str | None:
    """Where a NUL sits in decoded JSON (`messages[0].text`, `` for the value itself), or None.
    Iterative, so any depth the parser accepted is walked."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return path
        elif isinstance(node, dict):
            for key, item in node.items():
                shown = str(key).replace(NUL, "\\u0000")
                where = f"{path}.{shown}" if path else shown
                if NUL in key:
                    return where
                stack.append((where, item))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
    return None


class NulInJson(ValueError):
    def __init__(self, path: str) -> None:
        super().__init__(f"{path or 'the value'} {NUL_MESSAGE}")
        self.path = path


def loads(raw: bytes | str) -> Any:
    """strictjson.loads that also refuses a NUL anywhere in the result (NulInJson names it)."""
    value = strictjson.loads(raw)
    where = nul_path(value)
    if where is not None:
        raise NulInJson(where)
    return value


def _nul_field(request: HttpRequest) -> str | None:
    if NUL in request.path_info:
        return "path"
    fields = [request.GET]
    is_form = request.content_type in _FORM_BODIES
    if request.method == "POST" and is_form and not _is_api_or_webhook(request):
        fields.append(request.POST)  # field values only: uploaded files may hold any byte
    for query in fields:
        for key, values in query.lists():
            if NUL in key or any(NUL in value for value in values):
                return key.replace(NUL, "\\u0000")
    return None


def _is_api_or_webhook(request: HttpRequest) -> bool:
    return request.path_info.startswith(("/api/", "/webhooks/"))


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _nul_field(request)
        if field is None:
            return self.get_response(request)
        message = f"{field} {NUL_MESSAGE}"
        if request.path_info.startswith("/api/"):
            body = {"detail": message, "errors": [{"field": field, "message": NUL_MESSAGE}]}
            return JsonResponse(body, status=400)
        return render(request, "400.html", {"message": message}, status=400)
