"""Sending journey messages (docs/design.md §11) with the campaign engine's sender and ledger
rules: a row per send, its retry key fixed before the first attempt, retries only where
retryable, 409 as sent. `send_all` sends the sends of many runs at once (the runs are held by
the engine's run lease); `journeys.engine` decides what to send.

Reply first: the first step of a run that carries an unexpired reply token goes as a reply
(free of quota); when LINE refuses the token the same attempt pushes with the row's retry key.
A reply has no retry key, so the row records that a reply is being tried before the call: when
a worker dies during it, the next claim tries the same token again, and LINE refusing a token
that only we held and that has not expired means our earlier attempt used it.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from audiences.models import Contact
from campaigns.engine.config import option
from campaigns.engine.retry import halt_message, reason_for
from campaigns.engine.sender import FAILED, SENT, Item, Sender
from campaigns.personalization import (
    CompiledMessages,
    PersonalizationError,
    compile_messages,
    contact_context,
)
from journeys.models import JourneyRun, JourneySend
from lineapi import LineInvalidReplyTokenError, SendResult

log = logging.getLogger(__name__)


@dataclass
class SendItem(Item):
    via: str = ""
    reply_token: str = ""
    # A reply was being tried when an earlier worker was lost.
    reply_tried_before: bool = False


class JourneySender(Sender):
    """The engine's sender with reply first: `_call` replies while the item holds a token."""

    def _call(self, item: Item):
        return self._deliver(item)  # type: ignore[arg-type]

    async def _deliver(self, item: SendItem) -> SendResult:
        if item.reply_token:
            try:
                result = await self.client.reply(
                    reply_token=item.reply_token, messages=item.messages or []
                )
                item.via = JourneySend.Via.REPLY
                return result
            except LineInvalidReplyTokenError:
                if item.reply_tried_before or item.uncertain:
                    # Only we held this unexpired token: our unanswered attempt used it.
                    item.via = JourneySend.Via.REPLY
                    return SendResult(request_id=None, sent_messages=[], status=200)
                item.reply_token = ""
        item.via = JourneySend.Via.PUSH
        return await self.client.push(
            to=item.to, messages=item.messages or [], retry_key=item.retry_key
        )


@functools.lru_cache(maxsize=256)
def _compiled(version_id: int, step: int, messages_json: str) -> CompiledMessages:
    return compile_messages(json.loads(messages_json))


def send_context(contact: Contact, payload: dict) -> dict:
    return personalization_context(contact_context(contact), payload)


def personalization_context(base: dict, payload: dict) -> dict:
    """Campaign personalization's context (attributes, line_id, display_name) also under
    `contact`, plus the trigger's `event` or `data`. The editor's preview uses it too."""
    context = {**base, "contact": base}
    for key in ("event", "data"):
        value = payload.get(key)
        # Present even when empty, so that a missing value is named in full (`data.order_id`).
        context[key] = value if isinstance(value, dict) else {}
    return context


@dataclass
class Outgoing:
    """One send about to go: its row, its run, and what the run's state allows."""

    send: JourneySend
    run: JourneyRun
    messages: list[dict]
    reply_token: str = ""
    tried_reply: bool = False


def prepare(send: JourneySend, run: JourneyRun, *, first_send: bool) -> Outgoing | None:
    """Render the send and choose reply or push; None when it is settled here instead (failed:
    personalization, unknown outcome, an unconfirmable reply), its row written."""
    now = timezone.now()
    if run.contact is None:
        _settle(
            send,
            status=JourneySend.Status.FAILED,
            reason="no_contact",
            error_message="The contact was deleted before the send.",
        )
        return None
    if send.first_attempt_at is not None and send.via == JourneySend.Via.PUSH:
        age = (now - send.first_attempt_at).total_seconds()
        if age > option("CAMPAIGN_RETRY_KEY_TTL_SECONDS"):
            _settle(
                send,
                status=JourneySend.Status.FAILED,
                reason="unknown_outcome",
                error_message="LINE may have accepted an earlier attempt more than 24 hours "
                "ago; its retry key has expired, so it is not sent again.",
            )
            return None
    step = run.version.steps[send.step]
    try:
        compiled = _compiled(run.version_id, send.step, json.dumps(step["messages"]))
        messages = compiled.render(send_context(run.contact, run.payload))
    except PersonalizationError as exc:
        _settle(
            send, status=JourneySend.Status.FAILED, reason="personalization", error_message=str(exc)
        )
        return None
    reply_token = ""
    alive = run.reply_token_expires_at is not None and now < run.reply_token_expires_at
    tried_reply = send.via == JourneySend.Via.REPLY and send.first_attempt_at is not None
    if first_send and run.reply_token and send.via != JourneySend.Via.PUSH:
        if alive:
            reply_token = run.reply_token
        elif tried_reply:
            _settle(
                send,
                status=JourneySend.Status.FAILED,
                reason="reply_unconfirmed",
                error_message="A reply was being sent when its worker was lost, and its "
                "token has expired since: LINE cannot say whether it went out, so it is not "
                "pushed (that could deliver it twice).",
            )
            return None
    return Outgoing(send, run, messages, reply_token, tried_reply)


def _settle(send: JourneySend, **fields) -> None:
    fields.setdefault("finished_at", timezone.now())
    JourneySend.objects.filter(pk=send.pk, status__in=JourneySend.OPEN).update(**fields)
    for key, value in fields.items():
        setattr(send, key, value)


def send_all(outgoing: list[Outgoing], *, heartbeat) -> None:
    """Send them all at once, per connection, through the shared rate limiter; every row gets
    its outcome. `heartbeat()` runs between slices (the engine renews its run lease there)."""
    now = timezone.now()
    for out in outgoing:
        # Written before the call: a worker lost during it leaves this on the row.
        via = JourneySend.Via.REPLY if out.reply_token else JourneySend.Via.PUSH
        JourneySend.objects.filter(pk=out.send.pk).update(
            status=JourneySend.Status.SENDING,
            via=via,
            first_attempt_at=Coalesce(F("first_attempt_at"), now),
            messages=out.messages,
        )
    by_connection: dict[int, list[Outgoing]] = {}
    for out in outgoing:
        by_connection.setdefault(out.run.journey.connection_id, []).append(out)
    for group in by_connection.values():
        items = [
            SendItem(
                ids=[out.send.pk],
                to=out.send.line_id,
                messages=out.messages,
                retry_key=str(out.send.retry_key),
                prior_attempts=out.send.attempts,
                prior_first_at=out.send.first_attempt_at,
                reply_token=out.reply_token,
                reply_tried_before=out.tried_reply,
            )
            for out in group
        ]
        sender = JourneySender(
            connection=group[0].run.journey.connection,
            mode="push",  # a reply is in push's rate-limit group (lineapi RATE_GROUPS)
            notification_disabled=False,
            units=None,
            label=f"journey sends ({len(items)})",
        )
        sender.send(
            items, interval=option("CAMPAIGN_HEARTBEAT_SECONDS"), between=lambda _done: heartbeat()
        )
        for out, item in zip(group, items, strict=True):
            _settle(out.send, **_outcome(item, sender))


def _outcome(item: SendItem, sender: JourneySender) -> dict:
    fields = {
        "via": item.via or (JourneySend.Via.REPLY if item.reply_token else JourneySend.Via.PUSH),
        "attempts": item.prior_attempts + item.tried,
        "http_status": item.http_status,
        "request_id": item.request_id[:64],
        "accepted_request_id": item.accepted_request_id[:64],
        "error_message": item.error_message,
        "error_details": item.error_details[:50],
        "reason": item.reason,
    }
    if item.outcome == SENT:
        fields.update(status=JourneySend.Status.SENT, reason="", error_message="", error_details=[])
    elif item.outcome == FAILED:
        fields["status"] = JourneySend.Status.FAILED
    else:  # a halting answer (monthly limit, token refused): this send fails with it
        halt = sender.halt
        fields.update(
            status=JourneySend.Status.FAILED,
            reason=reason_for(halt) if halt else "stopped",
            error_message=halt_message(halt) if halt else "The send was stopped.",
        )
    return fields
