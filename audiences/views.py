import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audiences import backfill
from audiences import builder as builder_rows
from audiences.forms import (
    ContactEditForm,
    ContactFilterForm,
    ImportMappingForm,
    ImportUploadForm,
    SegmentForm,
)
from audiences.imports import (
    ImportFileError,
    import_job_create,
    import_job_preview,
    import_job_start,
)
from audiences.models import Contact, ImportJob, Segment
from audiences.rules import RuleError, parse_rules
from audiences.selectors import (
    contact_custom_events,
    contact_detail_extra,
    contact_events,
    contact_search,
    import_jobs,
    keyset_page,
    rules_count,
    segment_count,
    segment_sample,
)
from audiences.services import (
    SegmentInUse,
    contact_delete,
    contact_opt_out,
    contact_update,
    segment_create,
    segment_delete,
    segment_update,
)
from connections.models import Connection
from kit import input_guard
from kit.pages import paginate, render_page
from kit.roles import ADMIN, READERS, WRITERS, has_role, role_required


def _can_write(request: HttpRequest) -> bool:
    return has_role(request.user, *WRITERS)


def _writers_only(request: HttpRequest) -> None:
    if not _can_write(request):
        raise PermissionDenied("Your role can read audiences but not change them.")


def _id_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@role_required(*READERS)
def contact_list(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = contact_search(**{k: v for k, v in filters.items() if v})
    before, after = (_id_param(request, name) for name in ("before", "after"))
    rows, next_before, prev_after = keyset_page(qs, before=before, after=after)
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("after", None)
    context = {
        "form": form,
        "contacts": rows,
        "next_before": next_before,
        "prev_after": prev_after,
        "paged": bool(before or after),
        "query": query.urlencode(),
        "filtered": any(filters.values()) if filters else False,
        "tab": "contacts",
        "can_write": _can_write(request),
    }
    return render_page(
        request, "audiences/contact_list.html", context, partial="audiences/_contact_rows.html"
    )


@role_required(*READERS)
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    form = None
    if _can_write(request):
        initial = {
            "display_name": contact.display_name,
            "attributes": json.dumps(contact.attributes, indent=2, ensure_ascii=False),
        }
        form = ContactEditForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            contact_update(contact=contact, actor=request.user, **form.cleaned_data)
            messages.success(request, "Contact saved.")
            return redirect("contact_detail", pk=contact.pk)
    elif request.method == "POST":
        _writers_only(request)
    context = {
        "contact": contact,
        "form": form,
        "events": contact_events(contact=contact),
        "custom_events": contact_custom_events(contact=contact),
        "tab": "contacts",
        "can_write": _can_write(request),
        **contact_detail_extra(contact=contact),
    }
    return render(request, "audiences/contact_detail.html", context)


@require_POST
@role_required(*WRITERS)
def contact_opt_out_view(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    opted_out = request.POST.get("opted_out") == "true"
    contact_opt_out(contact=contact, actor=request.user, opted_out=opted_out)
    messages.success(request, "Opted out." if opted_out else "Opted back in.")
    return redirect("contact_detail", pk=contact.pk)


@require_POST
@role_required(*WRITERS)
def contact_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    contact_delete(contact=contact, actor=request.user)
    messages.success(request, f"Deleted {contact.line_id}.")
    return redirect("contact_list")


@role_required(*READERS)
def segment_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, Segment.objects.select_related("created_by"))
    context = {"page": page, "tab": "segments", "can_write": _can_write(request)}
    return render(request, "audiences/segment_list.html", context)


@role_required(*READERS)
def segment_count_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        counts = segment_count(segment=segment)
    except RuleError as exc:
        counts = {"error": exc}
    return render(request, "audiences/_segment_count_cell.html", {"counts": counts})


@role_required(*READERS)
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    if segment is None:
        _writers_only(request)  # analysts may read a segment, not start one
    if request.method == "POST":
        _writers_only(request)
        form = SegmentForm(request.POST)
        builder = builder_rows.from_post(request.POST)
        rules = builder_rows.to_rules(builder, builder_rows.attribute_types())
        error = ""
        if form.is_valid():
            try:
                if segment:
                    segment_update(
                        segment=segment, user=request.user, rules=rules, **form.cleaned_data
                    )
                else:
                    segment = segment_create(user=request.user, rules=rules, **form.cleaned_data)
            except RuleError as exc:
                error = builder_rows.error_message(builder, builder_rows.attribute_types(), exc)
            else:
                messages.success(request, f"Segment “{segment.name}” saved.")
                return redirect("segment_list")
    else:
        initial = {"name": segment.name, "description": segment.description} if segment else None
        form = SegmentForm(initial=initial)
        if segment:
            builder = builder_rows.from_rules(segment.rules)
        else:
            builder = builder_rows.apply_action(builder_rows.Builder(), "add")
        error = ""
    context = {
        "form": form,
        "segment": segment,
        "tab": "segments",
        "can_write": _can_write(request),
        **builder_rows.page_context(builder, error),
    }
    return render(request, "audiences/segment_edit.html", context)


@require_POST
@role_required(*READERS)
def segment_builder(request: HttpRequest) -> HttpResponse:
    """htmx: add or remove rows, or load the rows from the JSON box; returns the builder."""
    action = request.POST.get("action", "")
    error = ""
    if action == "apply-json":
        try:
            rules = input_guard.loads(request.POST.get("rules_json", ""))
            parse_rules(rules)
            builder = builder_rows.from_rules(rules)
        except (ValueError, RuleError) as exc:
            builder, error = builder_rows.from_post(request.POST), f"JSON not applied: {exc}"
    else:
        builder = builder_rows.apply_action(builder_rows.from_post(request.POST), action)
    response = render(
        request, "audiences/_segment_builder.html", builder_rows.page_context(builder, error)
    )
    response["HX-Trigger"] = "rules-changed"
    return response


@require_POST
@role_required(*READERS)
def segment_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the live count, expected recipients and a sample for the rows being edited."""
    builder, types = builder_rows.from_post(request.POST), builder_rows.attribute_types()
    rules = builder_rows.to_rules(builder, types)
    segment_id = request.POST.get("segment_id", "")
    segment_id = int(segment_id) if segment_id.isdigit() else None  # the one being edited
    try:
        context = {
            **rules_count(rules=rules, segment_id=segment_id),
            "sample": segment_sample(rules=rules),
        }
    except RuleError as exc:
        context = {"error": builder_rows.error_message(builder, types, exc)}
    return render(request, "audiences/_segment_preview.html", context)


@require_POST
@role_required(*WRITERS)
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        segment_delete(segment=segment, user=request.user)
    except ProtectedError:
        messages.error(request, f"“{segment.name}” is the audience of a campaign; kept.")
    except SegmentInUse as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted segment “{segment.name}”.")
    return redirect("segment_list")


@role_required(*READERS)
def import_list(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm()
    if request.method == "POST":
        _writers_only(request)
        limit = settings.CONTACT_IMPORT_MAX_MB * 1024 * 1024
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 1024 * 1024:
            form.add_error(
                None, f"The file is larger than the {settings.CONTACT_IMPORT_MAX_MB} MB limit."
            )
        else:
            form = ImportUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    job = import_job_create(
                        original_name=upload.name, user=request.user, uploaded_file=upload
                    )
                except ImportFileError as exc:
                    form.add_error("file", str(exc))
                else:
                    return redirect("import_detail", pk=job.pk)
    context = {
        "form": form,
        "page": paginate(request, import_jobs()),
        "tab": "imports",
        "can_write": _can_write(request),
        "max_mb": settings.CONTACT_IMPORT_MAX_MB,
    }
    return render(request, "audiences/import_list.html", context)


@role_required(*READERS)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    context = {"job": job, "tab": "imports", "can_write": _can_write(request)}
    if job.status == ImportJob.Status.MAPPING:
        initial = {k: job.mapping.get(k) for k in ("line_id", "display_name")}
        form = ImportMappingForm(request.POST or None, job=job, initial=initial)
        if request.method == "POST":
            _writers_only(request)
            if form.is_valid():
                try:
                    import_job_start(
                        job=job,
                        mapping=form.mapping(),
                        replace_attributes=form.cleaned_data["replace_attributes"],
                        user=request.user,
                    )
                except ImportFileError as exc:
                    form.add_error(None, str(exc))
                else:
                    return redirect("import_detail", pk=job.pk)
        try:
            context["preview"] = import_job_preview(job=job)
        except (OSError, ImportFileError):
            context["preview"] = []
        context["form"] = form
    return render_page(
        request, "audiences/import_detail.html", context, partial="audiences/_import_progress.html"
    )


@role_required(*READERS)
def import_errors(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.error_report:
        raise Http404("This import has no error report.")
    return FileResponse(
        job.error_report.open("rb"),
        as_attachment=True,
        filename=f"import-{job.pk}-errors.csv",
        content_type="text/csv",
    )


# --- follower backfill (routed under /connections/<pk>/backfill/ by audiences/backfill_urls.py)


@role_required(ADMIN)
@require_POST
def backfill_start(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    try:
        backfill.backfill_start(connection=connection, actor=request.user)
    except backfill.BackfillActiveError as exc:
        messages.warning(request, str(exc))
    else:
        messages.info(request, "Follower backfill started.")
    return redirect("connection_detail", pk=pk)


@role_required(ADMIN)
def backfill_progress(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    context = {"connection": connection, "backfill": backfill.latest_backfill(connection)}
    return render_page(
        request, "audiences/backfill.html", context, partial="audiences/_backfill.html"
    )
