"""What enters a journey: LINE's webhook events (handlers registered with connections'
dispatcher, run in the event's savepoint after audiences' made the contact) and the brand's
events (a receiver of `custom_event_recorded`). docs/design.md §11."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from audiences.custom_events import custom_event_recorded
from audiences.models import Contact, CustomEvent
from connections import dispatch
from connections.models import WebhookEvent
from journeys.definition import normalized
from journeys.entry import active_versions, enter
from journeys.flow import duration
from journeys.models import Journey, JourneyRun, JourneyVersion

log = logging.getLogger(__name__)


def _follow_matches(trigger: dict, event: WebhookEvent) -> bool:
    follow = event.raw.get("follow") if isinstance(event.raw.get("follow"), dict) else {}
    unblocked = bool(follow.get("isUnblocked"))
    when = trigger.get("when", "any")
    return when == "any" or (when == "unblocked") == unblocked


def message_text(event: WebhookEvent) -> str | None:
    message = event.raw.get("message")
    if isinstance(message, dict) and message.get("type") == "text":
        text = message.get("text")
        return text if isinstance(text, str) else None
    return None


def _keyword_matches(trigger: dict, event: WebhookEvent) -> bool:
    text = message_text(event)
    if text is None:
        return False
    said = normalized(text)
    keywords = [normalized(k) for k in trigger.get("keywords", [])]
    if trigger.get("match", "exact") == "contains":
        return any(k and k in said for k in keywords)
    return said in keywords


def _postback_matches(trigger: dict, event: WebhookEvent) -> bool:
    postback = event.raw.get("postback")
    data = postback.get("data") if isinstance(postback, dict) else None
    if not isinstance(data, str):
        return False
    wanted = trigger.get("data", "")
    return data.startswith(wanted) if trigger.get("match") == "prefix" else data == wanted


MATCHERS: dict[str, tuple[str, Callable[[dict, WebhookEvent], bool]]] = {
    "follow": (Journey.Trigger.FOLLOW, _follow_matches),
    "message": (Journey.Trigger.KEYWORD, _keyword_matches),
    "postback": (Journey.Trigger.POSTBACK, _postback_matches),
    "join": (Journey.Trigger.JOIN, lambda trigger, event: True),
}


def _payload(event: WebhookEvent) -> dict:
    """What the Liquid context's `event` holds for a LINE event."""
    payload: dict = {"name": event.type}
    text = message_text(event)
    if text is not None:
        payload["text"] = text
    postback = event.raw.get("postback")
    if isinstance(postback, dict):
        payload["postback"] = {k: v for k, v in postback.items() if k in ("data", "params")}
    return {"event": payload}


def sample_payload(trigger: dict, properties: dict) -> dict:
    """What a run of this trigger gives the Liquid context, with sample values, for the editor's
    preview: the shape `_payload`, the events API and the trigger API give."""
    kind = trigger.get("type")
    if kind == Journey.Trigger.API:
        return {"data": properties}
    if kind == Journey.Trigger.EVENT:
        return {"event": {"name": trigger.get("name", ""), "properties": properties}}
    if kind == Journey.Trigger.KEYWORD:
        keywords = trigger.get("keywords") or [""]
        return {"event": {"name": "message", "text": keywords[0]}}
    if kind == Journey.Trigger.POSTBACK:
        return {"event": {"name": "postback", "postback": {"data": trigger.get("data", "")}}}
    return {"event": {"name": kind or ""}}


def on_webhook_event(event: WebhookEvent, _prepared: object) -> dispatch.Outcome:
    trigger_type, matches = MATCHERS[event.type]
    if not event.line_id:
        return False, {}
    versions = [
        v
        for v in active_versions(connection_id=event.connection_id, trigger_type=trigger_type)
        if matches(v.trigger, event)
    ]
    if not versions:
        return False, {}
    contact = Contact.objects.filter(line_id=event.line_id).first()
    if contact is None:
        return False, {"journeys": "no contact for the event's source"}
    token = event.raw.get("replyToken")
    token = token if isinstance(token, str) else ""
    entered, skipped = [], {}
    for version in versions:
        run, _ = enter(
            version=version,
            contact=contact,
            trigger_key=f"wh:{event.webhook_event_id}",
            payload=_payload(event),
            reply_token=token,
            received_at=event.received_at,
        )
        if run.reason:
            skipped[str(version.journey_id)] = run.reason
        else:
            entered.append(version.journey_id)
            if run.reply_token:
                # A token is single use: the first journey entered replies, the others push.
                token = ""
    return True, {"journeys": {"entered": entered, "skipped": skipped}}


def on_custom_event(sender: object, event: CustomEvent, **_: object) -> None:
    """After the event's commit: every active `event` journey of that name enters the contact.
    Each in its own transaction, so one journey's failure costs the others nothing."""
    contact = event.contact
    now = timezone.now()
    # Runs whose goal is this event convert and leave at once (no further sends).
    for run in JourneyRun.objects.filter(
        contact=contact, status__in=JourneyRun.OPEN, version__goal__event=event.name
    ).select_related("version"):
        within = duration((run.version.goal or {}).get("within"))
        if within is not None and now <= run.created_at + within:
            JourneyRun.objects.filter(pk=run.pk, status__in=JourneyRun.OPEN).update(
                status=JourneyRun.Status.CONVERTED, reason="goal", finished_at=now, wake_at=None
            )
    # Runs waiting for this event (a wait_for step) go on at the timer's next pass.
    JourneyRun.objects.filter(
        contact=contact, status=JourneyRun.Status.WAITING, waiting_for__event=event.name
    ).update(waiting_for={"event": event.name, "happened": True}, wake_at=timezone.now())
    versions: list[JourneyVersion] = [
        v
        for v in active_versions(connection_id=contact.connection_id, trigger_type="event")
        if v.trigger.get("name") == event.name
    ]
    for version in versions:
        try:
            with transaction.atomic():
                enter(
                    version=version,
                    contact=contact,
                    trigger_key=f"ev:{event.pk}",
                    payload={"event": {"name": event.name, "properties": event.properties}},
                )
        except Exception:
            log.exception("journey %s: event %s did not enter", version.journey_id, event.pk)


def on_unfollow(event: WebhookEvent, _prepared: object) -> dispatch.Outcome:
    """Blocking the account ends every run of the contact (waiting ones at once; a running
    one at its next step)."""
    if not event.line_id:
        return False, {}
    ended = JourneyRun.objects.filter(
        line_id=event.line_id, status__in=(JourneyRun.Status.QUEUED, JourneyRun.Status.WAITING)
    ).update(
        status=JourneyRun.Status.EXITED,
        reason="unfollowed",
        finished_at=timezone.now(),
        wake_at=None,
    )
    return bool(ended), {"journey_runs_ended": ended} if ended else {}


def register() -> None:
    for event_type in MATCHERS:
        dispatch.register(event_type, on_webhook_event)
    dispatch.register("unfollow", on_unfollow)
    custom_event_recorded.connect(on_custom_event, dispatch_uid="journeys.on_custom_event")
