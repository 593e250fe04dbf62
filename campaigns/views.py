from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audiences.models import Contact, Segment
from campaigns import services, template_services
from campaigns.engine.snapshot import frequency_cap as current_frequency_cap
from campaigns.forms import (
    MESSAGE_TYPES,
    CampaignFilterForm,
    CampaignForm,
    FrequencyCapForm,
    MessageEditor,
    TemplateMetaForm,
    TestSendForm,
)
from campaigns.models import Campaign, MessageTemplate
from campaigns.template_services import preview_context, preview_variables, render_preview
from connections.models import Connection
from kit.pages import paginate, render_page
from kit.roles import ADMIN, READERS, WRITERS, has_role, role_required
from kit.timezones import current_zone

EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED)


def _can_write(request: HttpRequest) -> bool:
    return has_role(request.user, *WRITERS)


# Message templates


@role_required(*READERS)
def template_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("search", "").strip()
    templates = MessageTemplate.objects.select_related("created_by")
    if search:
        templates = templates.filter(name__icontains=search)
    context = {
        "page": paginate(request, templates),
        "search": search,
        "can_write": _can_write(request),
    }
    return render(request, "campaigns/template_list.html", context)


# Pages with form errors answer 200, as Django's own views do: a 4xx page load shows up in the
# browser console as an error, and the errors are already shown next to their fields.
def _editor_page(
    request: HttpRequest,
    form: TemplateMetaForm,
    editor: MessageEditor,
    template: MessageTemplate | None,
) -> HttpResponse:
    context = {
        "form": form,
        "editor": editor,
        "template": template,
        "variables": preview_variables(),
        "message_types": MESSAGE_TYPES,
        "preview_contacts": Contact.objects.order_by("-id")[:100],
        "can_write": _can_write(request),
    }
    return render(request, "campaigns/template_form.html", context)


@role_required(*READERS)
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=template_id) if template_id else None
    if template is None and not _can_write(request):
        raise PermissionDenied("Your role can read templates but not create them.")
    if request.method != "POST":
        initial = {"name": template.name} if template else {}
        editor = MessageEditor(messages=template.messages if template else None)
        return _editor_page(request, TemplateMetaForm(initial=initial), editor, template)
    if not _can_write(request):
        raise PermissionDenied("Your role does not allow editing templates.")
    form = TemplateMetaForm(request.POST)
    editor = MessageEditor(request.POST)
    if editor.apply_action(request.POST.get("action", "save")):
        keep = {k: request.POST.get(k, "") for k in ("name", "validate_connection")}
        return _editor_page(request, TemplateMetaForm(initial=keep), editor, template)
    saved = _template_save(request, form, editor, template)
    if saved is None:
        return _editor_page(request, form, editor, template)
    flash.success(request, f"Template “{saved.name}” saved.")
    return redirect("template_edit", template_id=saved.pk)


def _template_save(
    request: HttpRequest,
    form: TemplateMetaForm,
    editor: MessageEditor,
    template: MessageTemplate | None,
) -> MessageTemplate | None:
    form_ok = form.is_valid()
    messages = editor.messages()
    if not form_ok or messages is None:
        if messages is not None:
            editor.add_errors(template_services.template_problems(messages=messages))
        return None
    fields = {
        "user": request.user,
        "name": form.cleaned_data["name"],
        "messages": messages,
        "connection": form.cleaned_data["validate_connection"],
    }
    try:
        if template is None:
            return template_services.template_create(**fields)
        return template_services.template_update(template=template, **fields)
    except template_services.TemplateInvalid as exc:
        for error in exc.errors:
            if error["field"] == "name":
                form.add_error("name", error["message"])
            elif error["field"] == "connection":
                form.add_error("validate_connection", error["message"])
        editor.add_errors([e for e in exc.errors if e["field"] not in ("name", "connection")])
        return None


@role_required(*READERS)
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    editor = MessageEditor(request.POST)
    context = preview_context(request.POST.get("preview_contact", ""))
    return render(
        request, "campaigns/_preview.html", render_preview(editor.partial_messages(), context)
    )


@role_required(*WRITERS)
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=template_id)
    try:
        template_services.template_delete(template=template, user=request.user)
    except template_services.TemplateInvalid as exc:
        flash.error(request, exc.errors[0]["message"])
    else:
        flash.success(request, f"Template “{template.name}” deleted.")
    return redirect("template_list")


# Campaigns


@role_required(*READERS)
def campaign_list(request: HttpRequest) -> HttpResponse:
    from campaigns.selectors import campaign_list as select_campaigns

    filters = CampaignFilterForm(request.GET)
    filters.is_valid()
    search = filters.cleaned_data.get("search", "")
    status = filters.cleaned_data.get("status", "")
    campaigns = select_campaigns(search=search, status=status)
    context = {
        "page": paginate(request, campaigns),
        "filters": filters,
        "filtered": bool(search or status),
        "can_write": _can_write(request),
        "is_admin": has_role(request.user, ADMIN),
        "has_connection": Connection.objects.exists(),
        "has_contacts": Contact.objects.exists(),
    }
    return render_page(
        request, "campaigns/campaign_list.html", context, partial="campaigns/_campaign_rows.html"
    )


def _wizard_page(
    request: HttpRequest, form: CampaignForm, campaign: Campaign | None
) -> HttpResponse:
    context = {
        "form": form,
        "campaign": campaign,
        "has_connection": Connection.objects.exists(),
        "has_segments": Segment.objects.exists(),
        "has_templates": MessageTemplate.objects.exists(),
    }
    return render(request, "campaigns/campaign_form.html", context)


@role_required(*WRITERS)
def campaign_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        initial = {"schedule_timezone": current_zone(), "frequency_cap_enabled": True}
        form = CampaignForm(initial=initial)
        return _wizard_page(request, form, None)
    form = CampaignForm(request.POST)
    if form.is_valid():
        try:
            campaign = services.campaign_create(user=request.user, **form.service_kwargs())
        except services.CampaignError as exc:
            form.add_error(_error_field(form, exc), exc.message)
        else:
            return redirect("campaign_review", campaign_id=campaign.pk)
    return _wizard_page(request, form, None)


@role_required(*WRITERS)
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if campaign.status not in EDITABLE:
        flash.error(request, "Only draft and scheduled campaigns can be edited; copy it instead.")
        return redirect("campaign_detail", campaign_id=campaign.pk)
    if request.method != "POST":
        return _wizard_page(
            request,
            CampaignForm(initial=CampaignForm.initial_for(campaign), campaign=campaign),
            campaign,
        )
    form = CampaignForm(request.POST, campaign=campaign)
    was_scheduled = campaign.status == Campaign.Status.SCHEDULED
    if form.is_valid():
        try:
            services.campaign_update(campaign=campaign, user=request.user, **form.service_kwargs())
        except services.CampaignError as exc:
            form.add_error(_error_field(form, exc), exc.message)
        else:
            if was_scheduled and campaign.status == Campaign.Status.DRAFT:
                flash.info(
                    request,
                    "The campaign is no longer scheduled: it is a draft again. Launch it from "
                    "this review when you are ready.",
                )
            return redirect("campaign_review", campaign_id=campaign.pk)
    return _wizard_page(request, form, campaign)


def _error_field(form: CampaignForm, exc: Exception) -> str | None:
    name = getattr(exc, "field", None)
    if name == "messages":
        return (
            "messages_json" if form.cleaned_data.get("message_source") == "inline" else "template"
        )
    return name if name in form.fields else None


def _review_page(
    request: HttpRequest, campaign: Campaign, review: dict | None = None, **extra
) -> HttpResponse:
    from campaigns.selectors import campaign_review

    review = review or campaign_review(campaign=campaign)
    messages = campaign.messages or (campaign.template.messages if campaign.template else [])
    context = {
        "preview": render_preview(messages, preview_context("")),
        "campaign": campaign,
        "review": review,
        "skipped": [(reason, count) for reason, count in review["skipped"].items() if count],
        "test_form": extra.pop("test_form", None) or TestSendForm(),
        "test_contacts": Contact.objects.filter(kind=Contact.Kind.USER).order_by("-id")[:50],
        "can_write": _can_write(request),
        "editable": campaign.status in EDITABLE,
        **extra,
    }
    return render(request, "campaigns/campaign_review.html", context)


@role_required(*READERS)
def campaign_review(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("connection"), pk=campaign_id)
    return _review_page(request, campaign)


@role_required(*WRITERS)
@require_POST
def campaign_launch(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        services.campaign_launch(campaign=campaign, user=request.user)
    except services.LaunchBlocked as exc:
        reasons = getattr(exc, "reasons", None) or [str(exc)]
        return _review_page(request, campaign, exc.review, launch_blocked=reasons)
    campaign.refresh_from_db()
    if campaign.status == Campaign.Status.SCHEDULED:
        flash.success(request, "Campaign scheduled.")
    else:
        flash.success(request, "Campaign launched.")
    return redirect("campaign_detail", campaign_id=campaign.pk)


@role_required(*WRITERS)
@require_POST
def campaign_test_send(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("connection"), pk=campaign_id)
    form = TestSendForm(request.POST)
    contact = None
    if form.is_valid():
        contact = Contact.objects.filter(line_id=form.cleaned_data["line_id"]).first()
        if contact is None:
            form.add_error("line_id", "No contact has this LINE id.")
    if contact is None:
        return _review_page(request, campaign, test_form=form)
    result = services.campaign_test_send(
        campaign=campaign, user=request.user, contact=contact, connection=campaign.connection
    )
    if not result["ok"]:
        form.add_error("line_id", f"The test was not sent: {result['error']}")
    return _review_page(request, campaign, test_form=form, test_result=result)


@role_required(*READERS)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    from campaigns.selectors import campaign_progress

    campaign = get_object_or_404(
        Campaign.objects.select_related("connection", "segment", "template"), pk=campaign_id
    )
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign=campaign),
        "can_write": _can_write(request),
        "editable": campaign.status in EDITABLE,
    }
    return render_page(
        request, "campaigns/campaign_detail.html", context, partial="campaigns/_progress.html"
    )


def _control(name: str, verb: str):
    @role_required(*WRITERS)
    @require_POST
    def view(request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        kwargs = {"reason": request.POST.get("reason", "")} if name == "pause" else {}
        try:
            getattr(services, f"campaign_{name}")(campaign=campaign, user=request.user, **kwargs)
        except services.CampaignError as exc:
            flash.error(request, exc.message)
        else:
            if name == "cancel":
                from campaigns.selectors import campaign_in_flight_wait

                campaign_in_flight_wait(campaign=campaign)
            flash.success(request, f"Campaign {verb}.")
        return redirect("campaign_detail", campaign_id=campaign.pk)

    view.__name__ = f"campaign_{name}"
    return view


campaign_pause = _control("pause", "paused")
campaign_resume = _control("resume", "resumed")
campaign_cancel = _control("cancel", "cancelled")


@role_required(*WRITERS)
@require_POST
def campaign_delete(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        services.campaign_delete(campaign=campaign, user=request.user)
    except services.CampaignError as exc:
        flash.error(request, exc.message)
        return redirect("campaign_detail", campaign_id=campaign.pk)
    flash.success(request, f"Draft “{campaign.name}” deleted.")
    return redirect("campaign_list")


@role_required(*WRITERS)
@require_POST
def campaign_copy(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    copy = services.campaign_copy(campaign=campaign, user=request.user)
    flash.success(request, f"Copied as “{copy.name}”, a draft you can edit.")
    return redirect("campaign_edit", campaign_id=copy.pk)


# Settings


@role_required(ADMIN)
def frequency_cap(request: HttpRequest) -> HttpResponse:
    current = current_frequency_cap()
    form = FrequencyCapForm(
        request.POST if request.method == "POST" else None,
        initial={"max_messages": current.max_messages, "days": current.days},
    )
    if request.method != "POST" or not form.is_valid():
        context = {"form": form, "current": current}
        return render(request, "campaigns/frequency_cap.html", context)
    services.frequency_cap_set(user=request.user, **form.cleaned_data)
    flash.success(request, "Frequency cap saved.")
    return redirect("frequency_cap")
