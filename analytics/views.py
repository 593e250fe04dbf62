from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from analytics import presentation, selectors, services
from analytics.forms import DateRangeForm, DeliveryFilterForm
from campaigns.models import Campaign
from campaigns.selectors import campaign_open_retry, retryable_failures
from campaigns.services import CampaignError, campaign_retry_failed
from kit.roles import ADMIN, READERS, WRITERS, has_role, role_required
from kit.spreadsheet import csv_response


def log_filters(query: QueryDict) -> tuple[DeliveryFilterForm, selectors.LogFilters, int]:
    """Delivery-log filters from the query string; `http_status=0` means "no HTTP status"."""
    form = DeliveryFilterForm(query)
    form.is_valid()  # an invalid field is dropped; the valid ones still filter
    data = form.cleaned_data
    filters = selectors.LogFilters(
        status=data.get("status") or "",
        reason=data.get("reason") or "",
        http_status=data.get("http_status"),
        error_message=query.get("error_message"),
        line_id=(data.get("line_id") or "").strip(),
    )
    return form, filters, data.get("after") or 0


def filter_errors(form: DeliveryFilterForm) -> list[dict]:
    """Why each filter that is not understood was refused, per field, with the accepted values
    of a choice."""
    errors = []
    for name, messages_ in form.errors.items():
        field = form.fields[name]
        accepted = [str(value) for value, _ in getattr(field, "choices", ()) if value]
        hint = f" Accepted values: {', '.join(accepted)}." if accepted else ""
        for message in messages_:
            errors.append({"field": name, "message": f"{field.label or name}: {message}{hint}"})
    return errors


def filter_error_detail(errors: list[dict]) -> str:
    """An export never drops a filter it does not understand: that would export other rows."""
    return "Unknown filter value. " + " ".join(e["message"] for e in errors)


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("connection", "parent"), pk=pk)


@role_required(*READERS)
def overview(request: HttpRequest) -> HttpResponse:
    form = DateRangeForm(request.GET or None)
    start, end = form.range()
    if not form.is_bound:
        form = DateRangeForm(initial={"start": start, "end": end})
    data = selectors.overview(start=start, end=end)
    # Connection pages are for Admins only: other roles see the name without a link.
    context = {
        "form": form,
        "link_connections": has_role(request.user, ADMIN),
        "definitions": presentation.DEFINITIONS,
        **data,
        **presentation.overview_charts(data),
    }
    return render(request, "analytics/overview.html", context)


@role_required(*READERS)
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    report = selectors.campaign_report(campaign=campaign)
    open_retry = campaign_open_retry(campaign=campaign)
    retryable_now = (
        campaign.status == Campaign.Status.COMPLETED and report.retryable > 0 and open_retry is None
    )
    may_retry = has_role(request.user, *WRITERS)
    context = {
        "campaign": campaign,
        "report": report,
        "progress": selectors.progress(campaign),
        "timeline": presentation.timeline_points(report),
        "insight": selectors.campaign_insight(campaign),
        "definitions": presentation.DEFINITIONS,
        "retries": list(campaign.retries.order_by("id")),
        "open_retry": open_retry,
        "can_retry": retryable_now and may_retry,
        "retry_needs_role": retryable_now and not may_retry,
    }
    return render(request, "analytics/campaign_report.html", context)


@role_required(*READERS)
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    progress = selectors.progress(campaign)
    if request.GET.get("live") and not progress["live"]:
        # Finished since the page was loaded: reload it for the final breakdown and chart.
        return HttpResponse(headers={"HX-Refresh": "true"})
    context = {"campaign": campaign, "progress": progress, "definitions": presentation.DEFINITIONS}
    return render(request, "analytics/_progress.html", context)


@role_required(*READERS)
def delivery_log(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    form, filters, after = log_filters(request.GET)
    rows, next_after = [], None
    if not form.errors:  # a filter that is not understood shows its error, not every row
        rows, next_after = selectors.delivery_log_page(
            campaign=campaign, filters=filters, after=after
        )
    context = {
        "campaign": campaign,
        "form": form,
        "filters": filters,
        "query": filters.as_query(),
        "rows": rows,
        "after": after,
        "next_after": next_after,
        "reason_labels": presentation.REASON_LABELS,
    }
    return render(request, "analytics/delivery_log.html", context)


@role_required(*READERS)
def delivery_export(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    form, filters, _ = log_filters(request.GET)
    if form.errors:
        return HttpResponseBadRequest(
            filter_error_detail(filter_errors(form)), content_type="text/plain; charset=utf-8"
        )
    services.delivery_export_record(
        campaign=campaign, user=request.user, filters=filters.as_query()
    )
    rows = selectors.delivery_csv_values(campaign=campaign, filters=filters)
    return csv_response(selectors.CSV_COLUMNS, rows, f"campaign-{campaign.pk}-deliveries.csv")


@require_POST
@role_required(*WRITERS)
def campaign_retry(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    try:
        retry = campaign_retry_failed(campaign=campaign, user=request.user)
    except CampaignError as exc:
        messages.error(request, exc.message)
        return redirect("analytics_campaign_report", pk=campaign.pk)
    count = retryable_failures(campaign=campaign).count()
    messages.success(
        request,
        f"Draft “{retry.name}” created for the {count:,} recipients whose failure a retry can "
        "fix. Review it, then send it.",
    )
    return redirect(f"/campaigns/{retry.pk}/review/")
