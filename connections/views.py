from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from connections import selectors, services
from connections.forms import SECRET_FIELDS, ConnectionEditForm, ConnectionForm
from connections.models import Connection
from kit.pages import render_page
from kit.roles import ADMIN, role_required
from lineapi import WebhookParseError

MAX_WEBHOOK_BYTES = 1024 * 1024

# Folded under "Advanced" on the add and edit forms.
ADVANCED = ("api_base_url", "push_rate_limit", "multicast_rate_limit")


@csrf_exempt
@login_not_required
@require_POST
def line_webhook(request: HttpRequest, slug: str) -> JsonResponse:
    connection = Connection.objects.filter(webhook_slug=slug).first()
    if connection is None:
        return JsonResponse({"detail": "No connection has this webhook URL."}, status=404)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = b"" if declared > MAX_WEBHOOK_BYTES else request.read(MAX_WEBHOOK_BYTES + 1)
    if declared > MAX_WEBHOOK_BYTES or len(body) > MAX_WEBHOOK_BYTES:
        return JsonResponse({"detail": "The body is larger than 1 MB."}, status=413)
    try:
        stored = services.webhook_receive(
            connection=connection,
            raw_body=body,
            signature=request.headers.get("x-line-signature"),
        )
    except services.WebhookSignatureError as exc:
        return JsonResponse({"detail": str(exc)}, status=401)
    except WebhookParseError as exc:
        return JsonResponse({"detail": f"Malformed webhook body: {exc}"}, status=400)
    return JsonResponse({"stored": stored})


@role_required(ADMIN)
def connection_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "connections/connection_list.html", {"connections": selectors.connection_list()}
    )


@role_required(ADMIN)
@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_add(request: HttpRequest) -> HttpResponse:
    form = ConnectionForm(request.POST or None)
    duplicate_of = None
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(actor=request.user, **form.cleaned_data)
        except services.ConnectionVerifyError as exc:
            form.add_error(exc.field, exc.message)
        except services.ConnectionDuplicateError as exc:
            form.add_error(None, exc.message)
            duplicate_of = exc.existing
        else:
            messages.success(
                request, f"Connected to {connection.bot_display_name} ({connection.basic_id})."
            )
            return redirect("connection_detail", pk=connection.pk)
    context = {"form": form, "advanced_fields": ADVANCED, "duplicate_of": duplicate_of}
    return render(request, "connections/connection_form.html", context)


def _detail_context(request: HttpRequest, connection: Connection) -> dict:
    webhook_url = selectors.webhook_url(connection, request)
    return {
        "connection": connection,
        "webhook_url": webhook_url,
        "webhook_url_problem": selectors.webhook_url_problem(webhook_url),
        "events": selectors.connection_recent_events(connection),
        "panels": selectors.connection_panels(connection, request),
    }


@role_required(ADMIN)
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    return render(
        request, "connections/connection_detail.html", _detail_context(request, connection)
    )


@role_required(ADMIN)
@require_POST
def connection_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """A Sandbox's token and secret in clear (a POST, so no link or prefetch shows them)."""
    connection = get_object_or_404(Connection, pk=pk)
    try:
        revealed = services.connection_reveal_credentials(connection=connection, actor=request.user)
    except services.NotSandboxError:
        raise Http404("Only a Sandbox connection's credentials can be revealed.") from None
    context = {**_detail_context(request, connection), "revealed": revealed}
    response = render_page(
        request, "connections/connection_detail.html", context, "connections/_credentials.html"
    )
    response["Cache-Control"] = "no-store"
    return response


@role_required(ADMIN)
@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    initial = {
        "name": connection.name,
        "api_base_url": connection.api_base_url,
        "push_rate_limit": connection.push_rate_limit,
        "multicast_rate_limit": connection.multicast_rate_limit,
    }
    form = ConnectionEditForm(request.POST or None, initial=initial)
    duplicate_of = None
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update(
                actor=request.user, connection=connection, **form.cleaned_data
            )
        except services.ConnectionVerifyError as exc:
            form.add_error(exc.field, exc.message)
        except services.ConnectionDuplicateError as exc:
            form.add_error(None, exc.message)
            duplicate_of = exc.existing
        else:
            messages.success(request, "Connection saved.")
            return redirect("connection_detail", pk=connection.pk)
    context = {
        "form": form,
        "connection": connection,
        "advanced_fields": ADVANCED,
        "duplicate_of": duplicate_of,
    }
    return render(request, "connections/connection_form.html", context)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    if request.method == "POST":
        try:
            deleted = services.connection_delete(actor=request.user, connection=connection)
        except services.ConnectionInUseError as exc:
            messages.error(request, str(exc))
            return redirect("connection_detail", pk=pk)
        drafts = deleted.get("draft_campaigns_deleted")
        extra = f" with {drafts} draft campaign(s)" if drafts else ""
        messages.success(request, f"Connection {connection.name} deleted{extra}.")
        return redirect("connection_list")
    context = {"connection": connection, **selectors.connection_delete_context(connection)}
    return render(request, "connections/connection_confirm_delete.html", context)


@role_required(ADMIN)
@require_POST
def connection_check(request: HttpRequest, pk: int) -> HttpResponse:
    connection = services.connection_check(
        connection=get_object_or_404(Connection, pk=pk), actor=request.user
    )
    if connection.status == Connection.Status.ACTIVE:
        messages.success(request, f"The token works: {connection.bot_display_name}.")
    else:
        messages.error(request, connection.last_error)
    return redirect("connection_detail", pk=pk)


@role_required(ADMIN)
@require_POST
def connection_quota(request: HttpRequest, pk: int) -> HttpResponse:
    services.connection_refresh_quota(connection=get_object_or_404(Connection, pk=pk))
    messages.info(request, "Quota refreshed.")
    return redirect("connection_detail", pk=pk)
