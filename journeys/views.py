"""Journey pages: the list, the editor (new and edit, with the template editor's preview), the
journey's page with its actions and report, and the run log with its CSV."""

import json
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audiences import builder as builder_rows
from audiences.models import Contact
from audiences.selectors import custom_event_names
from campaigns.forms import MESSAGE_TYPES
from campaigns.models import MessageTemplate
from campaigns.template_services import preview_context, preview_variables, render_preview
from campaigns.wording import DEFINITIONS
from connections.models import Connection
from journeys import selectors, services
from journeys.forms import (
    TRANSACTIONAL_SHOWN,
    TRIGGER_VARIABLES,
    JourneyEditor,
    JourneyFilterForm,
    RunFilterForm,
    sample_properties,
)
from journeys.models import Journey
from journeys.sending import personalization_context
from journeys.triggers import sample_payload
from kit.pages import paginate, render_page
from kit.roles import ADMIN, READERS, WRITERS, has_role, role_required
from kit.spreadsheet import csv_response


def _api_url(request: HttpRequest, journey_id: int | str) -> str:
    """Where an `api` journey is triggered (journeys' API, `POST …/{id}/trigger`)."""
    return request.build_absolute_uri("/api/v1/journeys/") + f"{journey_id}/trigger"


def _can_write(request: HttpRequest) -> bool:
    return has_role(request.user, *WRITERS)


@role_required(*READERS)
def journey_list(request: HttpRequest) -> HttpResponse:
    filters = JourneyFilterForm(request.GET)
    filters.is_valid()
    status = filters.cleaned_data.get("status", "")
    page = paginate(request, selectors.journeys_list(status=status))
    rows = [{"journey": j, "trigger": selectors.trigger_summary(j)} for j in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "filtered": bool(status),
        "can_write": _can_write(request),
        "is_admin": has_role(request.user, ADMIN),
        "has_connection": Connection.objects.exists(),
    }
    return render_page(
        request, "journeys/journey_list.html", context, partial="journeys/_journey_rows.html"
    )


# The editor. Pages with errors answer 200, as the template editor does.


def _editor_page(
    request: HttpRequest, editor: JourneyEditor, journey: Journey | None
) -> HttpResponse:
    api_id = journey.pk if journey else "{id}"
    context = {
        "editor": editor,
        "form": editor.form,
        "journey": journey,
        "editing_active": journey is not None and journey.status == Journey.Status.ACTIVE,
        **builder_rows.page_context(editor.builder, editor.builder_error),
        "templates": MessageTemplate.objects.order_by("name"),
        "event_names": custom_event_names(),
        "variables": preview_variables(),
        "extra_variables": TRIGGER_VARIABLES,
        "message_types": MESSAGE_TYPES,
        "preview_contacts": Contact.objects.order_by("-id")[:100],
        "preview_data": request.POST.get("preview_data", ""),
        "transactional_shown": TRANSACTIONAL_SHOWN,
        "api_url": _api_url(request, api_id),
        "has_connection": Connection.objects.exists(),
    }
    return render(request, "journeys/journey_form.html", context)


def _save(request: HttpRequest, editor: JourneyEditor, journey: Journey | None) -> Journey | None:
    fields = editor.service_fields()
    if fields is None:
        return None
    try:
        if journey is None:
            return services.journey_create(user=request.user, **fields)
        return services.journey_update(journey=journey, user=request.user, **fields)
    except services.JourneyInvalid as exc:
        editor.add_problems(exc.problems)
    except services.JourneyError as exc:
        editor.form.add_error(None, exc.message)
    return None


@role_required(*WRITERS)
def journey_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _editor_page(request, JourneyEditor.blank(), None)
    editor = JourneyEditor.from_post(request.POST)
    if editor.apply_action(request.POST.get("action", "save")):
        return _editor_page(request, editor, None)
    journey = _save(request, editor, None)
    if journey is None:
        return _editor_page(request, editor, None)
    flash.success(request, f"Journey “{journey.name}” saved as a draft: activate it when ready.")
    return redirect("journey_detail", journey_id=journey.pk)


@role_required(*WRITERS)
def journey_edit(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=journey_id)
    if journey.status not in Journey.EDITABLE:
        flash.error(request, "An archived journey cannot be edited; create a new one instead.")
        return redirect("journey_detail", journey_id=journey.pk)
    if request.method != "POST":
        return _editor_page(request, JourneyEditor.for_journey(journey), journey)
    editor = JourneyEditor.from_post(request.POST)
    if editor.apply_action(request.POST.get("action", "save")):
        return _editor_page(request, editor, journey)
    version_before = journey.current_version_id
    saved = _save(request, editor, journey)
    if saved is None:
        return _editor_page(request, editor, journey)
    if saved.current_version_id != version_before:
        flash.success(
            request,
            f"Saved as version {saved.current_version.number}: new entries get it, contacts "
            "already in finish with the version they entered.",
        )
    else:
        flash.success(request, f"Journey “{saved.name}” saved.")
    return redirect("journey_detail", journey_id=saved.pk)


@role_required(*WRITERS)
@require_POST
def journey_preview(request: HttpRequest) -> HttpResponse:
    """htmx: one step's messages as the contact chosen would get them from this trigger."""
    editor = JourneyEditor.from_post(request.POST)
    step = editor.step(request.POST.get("step", ""))
    if step is None:
        return HttpResponseBadRequest("Unknown step.")
    if step.source == "template":
        template = MessageTemplate.objects.filter(pk=step.template or None).first()
        messages = template.messages if template else []
    else:
        messages = step.editor.partial_messages()
    editor.form.is_valid()
    properties, problem = sample_properties(request.POST.get("preview_data", ""))
    payload = sample_payload(editor.form.trigger(), properties)
    base, contact = preview_context(request.POST.get("preview_contact", ""))
    preview = render_preview(messages, (personalization_context(base, payload), contact))
    if problem:
        preview["warnings"].insert(0, problem)
    return render(request, "campaigns/_preview.html", preview)


# The journey's page: its definition, actions and report.


@role_required(*READERS)
def journey_detail(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(
        Journey.objects.select_related("connection", "current_version"), pk=journey_id
    )
    templates = MessageTemplate.objects.in_bulk(
        [s["template"] for s in journey.steps if isinstance(s, dict) and s.get("template")]
    )
    steps = [
        {"number": i + 1, "template": templates.get(s.get("template")), **s}
        for i, s in enumerate(journey.steps)
    ]
    context = {
        "journey": journey,
        "trigger": selectors.trigger_summary(journey),
        "trigger_kind": dict(Journey.Trigger.choices).get(journey.trigger_type, "No trigger"),
        "entry": selectors.entry_summary(journey.entry),
        "entry_conditions_json": json.dumps(journey.entry_conditions, ensure_ascii=False, indent=2),
        "steps": steps,
        "report": selectors.journey_report(journey),
        "definitions": DEFINITIONS,
        "has_runs": journey.runs.exists(),
        "can_write": _can_write(request),
        "api_url": _api_url(request, journey.pk),
    }
    return render(request, "journeys/journey_detail.html", context)


def _action(name: str, done: str):
    @role_required(*WRITERS)
    @require_POST
    def view(request: HttpRequest, journey_id: int) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=journey_id)
        try:
            getattr(services, f"journey_{name}")(journey=journey, user=request.user)
        except services.JourneyInvalid as exc:
            problems = "; ".join(p.message for p in exc.problems)
            flash.error(request, f"Not activated: {problems} Edit the journey to fix it.")
        except services.JourneyError as exc:
            flash.error(request, exc.message)
        else:
            flash.success(request, f"Journey {done}.")
        return redirect("journey_detail", journey_id=journey.pk)

    view.__name__ = f"journey_{name}"
    return view


journey_activate = _action("activate", "activated: its trigger now enters contacts")
journey_pause = _action("pause", "paused: no new entries; contacts already in finish")
journey_archive = _action("archive", "archived: stopped for good, its report kept")


@role_required(*WRITERS)
@require_POST
def journey_delete(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=journey_id)
    try:
        services.journey_delete(journey=journey, user=request.user)
    except services.JourneyError as exc:
        flash.error(request, exc.message)
        return redirect("journey_detail", journey_id=journey.pk)
    flash.success(request, f"Journey “{journey.name}” deleted.")
    return redirect("journey_list")


# The run log.


def _run_filters(request: HttpRequest) -> tuple[RunFilterForm, dict]:
    form = RunFilterForm(request.GET)
    form.is_valid()  # a value not understood is dropped and shown as an error
    data = form.cleaned_data
    return form, {"status": data.get("status") or "", "q": (data.get("q") or "").strip()}


@role_required(*READERS)
def journey_runs(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=journey_id)
    form, filters = _run_filters(request)
    page = paginate(request, selectors.journey_runs(journey=journey, **filters))
    context = {
        "journey": journey,
        "form": form,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "page": page,
        "rows": selectors.run_log_rows(page.object_list),
    }
    return render(request, "journeys/run_log.html", context)


@role_required(*READERS)
def journey_runs_csv(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey, pk=journey_id)
    form, filters = _run_filters(request)
    if form.errors:  # exporting other rows than asked for would mislead
        errors = " ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        return HttpResponseBadRequest(
            f"Unknown filter value. {errors}", content_type="text/plain; charset=utf-8"
        )
    services.journey_runs_export_record(journey=journey, user=request.user, filters=filters)
    rows = selectors.journey_runs_csv_values(journey=journey, **filters)
    return csv_response(selectors.RUN_CSV_COLUMNS, rows, f"journey-{journey.pk}-runs.csv")
