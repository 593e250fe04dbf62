"""Campaign writes: create, edit, launch, pause, resume, cancel, copy, test sends, the
frequency-cap setting. State changes are conditional updates; tasks are enqueued on commit."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from audiences.models import Contact, Segment
from campaigns.engine import lifecycle
from campaigns.engine.snapshot import campaign_recount, frequency_cap, send_mode
from campaigns.models import Campaign, DeliveryBatch, FrequencyCap, MessageTemplate
from campaigns.personalization import (
    PersonalizationError,
    TemplateSyntaxProblem,
    TemplateTooCostly,
    check_messages,
    compile_messages,
    contact_context,
)
from connections.line import line_call
from connections.models import Connection
from kit.services import audit_record
from lineapi import (
    LINE_ID_RE,
    MAX_MESSAGES,
    TOO_MANY_MESSAGES,
    LineApiError,
    normalize_line_id,
    validate_messages,
)

__all__ = [
    "CampaignError",
    "LaunchBlocked",
    "campaign_cancel",
    "campaign_copy",
    "campaign_create",
    "campaign_delete",
    "campaign_launch",
    "campaign_pause",
    "campaign_recount",
    "campaign_resume",
    "campaign_test_send",
    "campaign_update",
    "campaigns_start_due",
    "frequency_cap_set",
]

EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED)
MAX_EXPLICIT_IDS = 1_000_000
UPDATABLE = {
    "name",
    "connection",
    "audience_type",
    "segment",
    "explicit_ids",
    "template",
    "messages",
    "scheduled_at",
    "send_by",
    "schedule_timezone",
    "notification_disabled",
    "frequency_cap_enabled",
}


class CampaignError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class LaunchBlocked(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _messages_of(campaign: Campaign) -> list[dict]:
    if campaign.messages:
        return campaign.messages
    return list(campaign.template.messages) if campaign.template_id else []


def messages_problems(messages: Any) -> list[str]:
    """LINE's rules and Liquid syntax, as readable sentences with the property path."""
    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        return [TOO_MANY_MESSAGES]
    if not isinstance(messages, list) or not messages:
        return [f"Add between 1 and {MAX_MESSAGES} messages."]
    problems = [
        f"{p.get('property') or 'messages'}: {p['message']}" for p in validate_messages(messages)
    ]
    try:
        check_messages(messages)
    except TemplateSyntaxProblem as exc:
        problems.append(f"{exc.property}: Liquid syntax: {exc.message}")
    except TemplateTooCostly as exc:
        problems.append(str(exc))
    return problems


def _validate(campaign: Campaign) -> None:
    if not (campaign.name or "").strip():
        raise CampaignError("Give the campaign a name.", "name")
    if not isinstance(campaign.connection, Connection):
        raise CampaignError("Choose a LINE connection.", "connection")
    if campaign.audience_type not in Campaign.Audience.values:
        raise CampaignError("Choose who receives the campaign.", "audience_type")
    if campaign.audience_type == Campaign.Audience.SEGMENT and campaign.segment_id is None:
        raise CampaignError("Choose a segment.", "segment")
    if campaign.audience_type == Campaign.Audience.RETRY and campaign.parent_id is None:
        raise CampaignError("Only a retry campaign has this audience.", "audience_type")
    if campaign.audience_type == Campaign.Audience.EXPLICIT:
        ids = campaign.explicit_ids
        if not isinstance(ids, list) or not ids:
            raise CampaignError("Give at least one LINE id.", "explicit_ids")
        if len(ids) > MAX_EXPLICIT_IDS:
            raise CampaignError(f"At most {MAX_EXPLICIT_IDS:,} LINE ids.", "explicit_ids")
        ids = [normalize_line_id(i) if isinstance(i, str) else i for i in ids]
        bad = [i for i in ids if not isinstance(i, str) or not LINE_ID_RE.match(i)]
        if bad:
            raise CampaignError(
                f"Not a LINE user, group or room id: {str(bad[0])[:40]!r}"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
                "explicit_ids",
            )
        campaign.explicit_ids = list(dict.fromkeys(ids))
    if not campaign.messages and campaign.template_id is None:
        raise CampaignError("Choose a template or write the messages.", "messages")
    if campaign.messages:
        problems = messages_problems(campaign.messages)
        if problems:
            raise CampaignError(problems[0], "messages")
    if campaign.scheduled_at and campaign.send_by and campaign.send_by <= campaign.scheduled_at:
        raise CampaignError("The send-by deadline must be after the scheduled time.", "send_by")


def campaign_create(
    *,
    user,
    name: str,
    connection: Connection,
    audience_type: str,
    segment: Segment | None = None,
    explicit_ids: list[str] | None = None,
    template: MessageTemplate | None = None,
    messages: list[dict] | None = None,
    scheduled_at=None,
    send_by=None,
    schedule_timezone: str = "UTC",
    notification_disabled: bool = False,
    frequency_cap_enabled: bool = True,
    parent: Campaign | None = None,
) -> Campaign:
    campaign = Campaign(
        parent=parent,
        name=(name or "").strip(),
        connection=connection,
        audience_type=audience_type,
        segment=segment,
        explicit_ids=explicit_ids or [],
        template=template,
        messages=messages or [],
        scheduled_at=scheduled_at,
        send_by=send_by,
        schedule_timezone=schedule_timezone or "UTC",
        notification_disabled=notification_disabled,
        frequency_cap_enabled=frequency_cap_enabled,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    _check_send_time(scheduled_at)
    _validate(campaign)
    campaign.save()
    return campaign


def _check_send_time(scheduled_at) -> None:
    if scheduled_at is not None and scheduled_at <= timezone.now():
        raise CampaignError("Choose a time in the future.", "scheduled_at")


def campaign_update(*, campaign: Campaign, user, **fields: Any) -> Campaign:
    """Drafts and scheduled campaigns only. A scheduled campaign's messages were frozen at
    launch, so an edit freezes them again; one edited to "send now" is a draft again, to be
    launched from the review with every launch check."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise CampaignError(f"Cannot change {', '.join(sorted(unknown))}.")
    if campaign.status not in EDITABLE:
        raise CampaignError("Only drafts and scheduled campaigns can be edited.")
    if "scheduled_at" in fields and fields["scheduled_at"] != campaign.scheduled_at:
        _check_send_time(fields["scheduled_at"])
    was = campaign.status
    for key, value in fields.items():
        setattr(campaign, key, value)
    changed = set(fields)
    if was == Campaign.Status.SCHEDULED:
        if "template" in fields and "messages" not in fields:
            campaign.messages = []  # the new template's messages, not the old frozen ones
        campaign.messages = _messages_of(campaign)
        if not campaign.messages:
            raise CampaignError("The template has no messages.", "messages")
        if campaign.scheduled_at is None:
            campaign.status = Campaign.Status.DRAFT
        changed |= {"messages", "status"}
    _validate(campaign)
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, status=was).update(
            **{k: getattr(campaign, k) for k in changed}, updated_at=timezone.now()
        )
        if not updated:
            raise CampaignError("The campaign has started meanwhile and can no longer be edited.")
    return campaign


def _launch_problems(campaign: Campaign, messages: list[dict]) -> list[str]:
    from campaigns.selectors import campaign_review

    connection = campaign.connection
    if connection.status != Connection.Status.ACTIVE:
        return [f"The connection “{connection}” is not active: verify it first."]
    problems = messages_problems(messages)
    if problems:
        return problems
    compiled = compile_messages(messages)
    kind = send_mode(campaign, personalized=compiled.is_personalized)
    try:
        line_call(connection, lambda c: c.validate(kind=kind, messages=messages))
    except LineApiError as exc:
        return [f"LINE rejected the messages: {exc}"]
    review = campaign_review(campaign=campaign, messages=messages)
    return review["problems"]


# LINE accepts at most this many aggregation unit names per channel in a month (docs/design.md §6).
AGGREGATION_UNITS_PER_MONTH = 1000


def _aggregation_unit(campaign: Campaign, now) -> str:
    """The campaign's own unit for LINE's statistics, or none once the channel has used its
    month's names: LINE would refuse every request that names a new one."""
    suffix = f"_{now:%Y%m}"
    used = Campaign.objects.filter(
        connection_id=campaign.connection_id, aggregation_unit__endswith=suffix
    ).count()
    return f"c{campaign.pk}{suffix}" if used < AGGREGATION_UNITS_PER_MONTH else ""


def campaign_launch(*, campaign: Campaign, user) -> Campaign:
    """Checks everything before anything is sent, then schedules or starts the campaign."""
    if campaign.status != Campaign.Status.DRAFT:
        raise LaunchBlocked([f"Only drafts can be launched; this one is {campaign.status}."])
    messages = _messages_of(campaign)
    problems = _launch_problems(campaign, messages)
    if problems:
        raise LaunchBlocked(problems)
    now = timezone.now()
    if campaign.send_by and campaign.send_by <= now:
        raise LaunchBlocked(["The send-by deadline has already passed."])
    scheduled = bool(campaign.scheduled_at and campaign.scheduled_at > now)
    status = Campaign.Status.SCHEDULED if scheduled else Campaign.Status.SENDING
    unit = _aggregation_unit(campaign, now)
    with transaction.atomic():
        launched = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).update(
            status=status, messages=messages, aggregation_unit=unit, launched_at=now
        )
        if not launched:
            raise LaunchBlocked(["The campaign was launched meanwhile."])
        audit_record(
            actor=user,
            action="campaign.launch",
            target=campaign,
            details={"scheduled_at": campaign.scheduled_at.isoformat() if scheduled else None},
        )
        if not scheduled:
            _enqueue_start(campaign)
    campaign.refresh_from_db()
    return campaign


def _enqueue_start(campaign: Campaign) -> None:
    from campaigns.tasks import enqueue_start

    transaction.on_commit(lambda: enqueue_start(campaign.pk))


def campaign_pause(*, campaign: Campaign, user, reason: str = "") -> Campaign:
    with transaction.atomic():
        paused = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.PAUSED, pause_reason=reason or "Paused by " + _name(user)
        )
        if not paused:
            raise CampaignError("Only a sending campaign can be paused.")
        audit_record(
            actor=user, action="campaign.pause", target=campaign, details={"reason": reason}
        )
    campaign.refresh_from_db()
    return campaign


def campaign_resume(*, campaign: Campaign, user) -> Campaign:
    connection = Connection.all_objects.get(pk=campaign.connection_id)  # its status right now
    if campaign.status == Campaign.Status.PAUSED and connection.status != Connection.Status.ACTIVE:
        # It would only pause again at its first request.
        raise CampaignError(
            f"The connection “{connection}” is {connection.get_status_display().lower()}: "
            "an Admin must fix it and press “Check again” before this campaign can resume."
        )
    with transaction.atomic():
        resumed = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PAUSED).update(
            status=Campaign.Status.SENDING, pause_reason="", resumed_at=timezone.now()
        )
        if not resumed:
            raise CampaignError("Only a paused campaign can be resumed.")
        audit_record(actor=user, action="campaign.resume", target=campaign)
        campaign.refresh_from_db()
        if campaign.snapshot_at is None:
            _enqueue_start(campaign)
        else:
            lifecycle.batches_enqueue_pending(campaign)
            # Paused after its last row was written: nothing is queued that would complete it.
            transaction.on_commit(lambda: lifecycle.campaign_check_complete(campaign))
    return campaign


def campaign_cancel(*, campaign: Campaign, user) -> Campaign:
    """What was never attempted is not sent, as `cancelled` (`lifecycle.rows_stop`); requests in
    flight finish."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.CANCELLABLE).update(
            status=Campaign.Status.CANCELLED, finished_at=now
        )
        if not cancelled:
            raise CampaignError("Only scheduled, sending or paused campaigns can be cancelled.")
        stopped = lifecycle.rows_stop(lifecycle.rows_not_in_flight(campaign), "cancelled", now)
        lifecycle.counters_add(campaign.pk, stopped)
        DeliveryBatch.objects.filter(campaign=campaign, status=DeliveryBatch.Status.PENDING).update(
            status=DeliveryBatch.Status.DONE, finished_at=now
        )
        audit_record(actor=user, action="campaign.cancel", target=campaign)
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, user) -> None:
    """Drafts only: anything launched is the record of what was sent, and stays."""
    deleted, _ = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).delete()
    if not deleted:
        raise CampaignError("Only a draft can be deleted; cancel a launched campaign instead.")
    audit_record(
        actor=user, action="campaign.delete", target=campaign, details={"name": campaign.name}
    )


def campaign_copy(*, campaign: Campaign, user) -> Campaign:
    copy = Campaign.objects.create(
        name=f"Copy of {campaign.name}"[:200],
        connection=campaign.connection,
        audience_type=campaign.audience_type,
        segment=campaign.segment,
        explicit_ids=list(campaign.explicit_ids or []),
        parent=campaign.parent if campaign.audience_type == Campaign.Audience.RETRY else None,
        template=campaign.template,
        messages=list(campaign.messages or []),
        schedule_timezone=campaign.schedule_timezone,
        notification_disabled=campaign.notification_disabled,
        frequency_cap_enabled=campaign.frequency_cap_enabled,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    audit_record(actor=user, action="campaign.copy", target=copy, details={"from": campaign.pk})
    return copy


def campaign_test_send(
    *,
    contact: Contact,
    user,
    connection: Connection,
    messages: list[dict] | None = None,
    campaign: Campaign | None = None,
) -> dict:
    """A real push to one contact, personalized for them. It creates no delivery row and
    touches no counter; it is recorded in the audit log as a test."""
    if messages is None:
        messages = _messages_of(campaign) if campaign is not None else []
    result: dict[str, Any] = {
        "ok": False,
        "line_id": contact.line_id,
        "messages": [],
        "request_id": "",
        "http_status": None,
        "error": "",
        "details": [],
    }
    problems = messages_problems(messages)
    if problems:
        result["error"] = problems[0]
    else:
        try:
            rendered = compile_messages(messages).render(contact_context(contact))
            result["messages"] = rendered
            sent = line_call(
                connection,
                lambda c: c.push(
                    to=contact.line_id, messages=rendered, retry_key=str(uuid.uuid4())
                ),
            )
            result.update(ok=True, request_id=sent.request_id or "", http_status=sent.status)
        except PersonalizationError as exc:
            result["error"] = str(exc)
        except LineApiError as exc:
            result.update(
                error=exc.message,
                details=exc.details,
                http_status=exc.status,
                request_id=exc.request_id or "",
            )
    audit_record(
        actor=user,
        action="campaign.test_send",
        target=campaign if campaign is not None else contact,
        details={
            "line_id": contact.line_id,
            "connection": connection.pk,
            "ok": result["ok"],
            "http_status": result["http_status"],
            "request_id": result["request_id"],
        },
    )
    return result


def frequency_cap_set(*, user, max_messages: int | None, days: int) -> FrequencyCap:
    if max_messages is not None and max_messages < 1:
        raise CampaignError("Allow at least 1 message, or turn the cap off.", "max_messages")
    if not 1 <= int(days) <= 365:
        raise CampaignError("Choose between 1 and 365 days.", "days")
    with transaction.atomic():
        cap = FrequencyCap.objects.select_for_update().order_by("pk").first() or FrequencyCap()
        cap.max_messages, cap.days, cap.updated_by = max_messages, int(days), user
        cap.save()
        audit_record(
            actor=user,
            action="campaign.frequency_cap",
            details={"max_messages": max_messages, "days": int(days)},
        )
    return cap


def campaigns_start_due() -> dict[str, int]:
    """Beat: starts scheduled campaigns that are due and expires those past send-by."""
    now = timezone.now()
    figures = {"started": 0, "expired": 0}
    for campaign in Campaign.objects.filter(
        status__in=(*Campaign.LIVE, Campaign.Status.SCHEDULED), send_by__lt=now
    ):
        figures["expired"] += lifecycle.campaign_expire(campaign)
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
    for campaign in due:
        # The launch checks again: the connection, LINE's validation and the quota may have
        # changed since the campaign was scheduled. A failed check pauses it, with the reason.
        problems = _launch_problems(campaign, campaign.messages or _messages_of(campaign))
        if problems:
            message = "Not started at its scheduled time: " + " ".join(problems)
            message += " Fix this, then resume it."
            lifecycle.campaign_halt(campaign, message, from_status=Campaign.Status.SCHEDULED)
            continue
        with transaction.atomic():
            started = Campaign.objects.filter(
                pk=campaign.pk, status=Campaign.Status.SCHEDULED
            ).update(status=Campaign.Status.SENDING)
            if started:
                audit_record(actor=None, action="campaign.start", target=campaign)
                _enqueue_start(campaign)
        figures["started"] += started
    return figures


def _name(user) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else "the system"


__all__ += ["frequency_cap", "messages_problems"]
