"""Sending a run's steps (docs/design.md §11) with the campaign engine's sender, ledger rules
and lease: a row per send, its retry key fixed at entry, retries only where retryable, 409 as
sent, the lease swept when a worker is lost.

Reply first: the first step of a run that carries an unexpired reply token goes as a reply
(free of quota); when LINE refuses the token the same attempt pushes with the row's retry key.
A reply has no retry key, so the row records that a reply is being tried before the call: when
a worker dies during it, the next claim tries the same token again, and LINE refusing a token
that only we held and that has not expired means our earlier attempt used it.
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass

from django.db.models import F, Q
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
from journeys.entry import enqueue_run
from journeys.models import JourneyRun, JourneySend
from kit.leases import Lease
from lineapi import LineInvalidReplyTokenError, SendResult

log = logging.getLogger(__name__)

SEND_LEASE = Lease(
    JourneySend,
    held=JourneySend.Status.SENDING,
    stamp="claimed_at",
    seconds=lambda: option("CAMPAIGN_BATCH_LEASE_SECONDS"),
)
# A pending send nobody claimed for this long lost its task (a broker restart): queued again.
REQUEUE_AFTER = datetime.timedelta(seconds=60)


class LeaseLost(Exception):
    """The sweeper gave this send to another worker; this one writes nothing more."""


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
    import json

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


def run_send(run_id: int) -> int:
    """Send the run's pending steps in order; returns how many this call settled."""
    done = 0
    pending = JourneySend.objects.filter(run_id=run_id, status=JourneySend.Status.PENDING)
    for send_id in pending.order_by("step").values_list("pk", flat=True):
        if JourneySend.objects.filter(run_id=run_id, status=JourneySend.Status.SENDING).exists():
            break  # another worker holds an earlier step: it sends the rest in order
        try:
            if not send_one(send_id):
                break
        except LeaseLost:
            log.warning("journey send %s: lease lost; the sweeper's claim sends it", send_id)
            return done
        done += 1
    run_finish(run_id)
    return done


def _finish(send: JourneySend, token: dict, **fields) -> bool:
    fields.setdefault("finished_at", timezone.now())
    return bool(SEND_LEASE.held_rows(pk=send.pk, **token).update(**fields))


def send_one(send_id: int) -> bool:
    """Claim one pending send and carry it to a final status; False when another worker has it."""
    if not SEND_LEASE.claim(
        {"pk": send_id, "status": JourneySend.Status.PENDING}, claims=F("claims") + 1
    ):
        return False
    send = JourneySend.objects.select_related(
        "run__version", "run__journey__connection", "contact"
    ).get(pk=send_id)
    token = {"claims": send.claims}
    run, now = send.run, timezone.now()
    contact = send.contact
    if contact is None:
        return _finish(
            send,
            token,
            status=JourneySend.Status.FAILED,
            reason="no_contact",
            error_message="The contact was deleted before the send.",
        )
    if send.first_attempt_at is not None and send.via == JourneySend.Via.PUSH:
        age = (now - send.first_attempt_at).total_seconds()
        if age > option("CAMPAIGN_RETRY_KEY_TTL_SECONDS"):
            return _finish(
                send,
                token,
                status=JourneySend.Status.FAILED,
                reason="unknown_outcome",
                error_message="LINE may have accepted an earlier attempt more than 24 hours ago; "
                "its retry key has expired, so it is not sent again.",
            )
    limit = run.version.daily_limit
    others = JourneySend.objects.filter(
        journey_id=send.journey_id,
        contact=contact,
        created_at__gte=now - datetime.timedelta(hours=24),
        status__in=(JourneySend.Status.SENDING, *JourneySend.ATTEMPTED),
    ).exclude(pk=send.pk)
    if others.count() >= limit:
        return _finish(send, token, status=JourneySend.Status.SKIPPED, reason="daily_limit")
    import json

    step = run.version.steps[send.step]
    try:
        compiled = _compiled(run.version_id, send.step, json.dumps(step["messages"]))
        messages = compiled.render(send_context(contact, run.payload))
    except PersonalizationError as exc:
        return _finish(
            send,
            token,
            status=JourneySend.Status.FAILED,
            reason="personalization",
            error_message=str(exc),
        )
    reply_token = ""
    token_alive = run.reply_token_expires_at is not None and now < run.reply_token_expires_at
    first_send = send.step == 0
    tried_reply = send.via == JourneySend.Via.REPLY and send.first_attempt_at is not None
    if first_send and run.reply_token and send.via != JourneySend.Via.PUSH:
        if token_alive:
            reply_token = run.reply_token
        elif tried_reply:
            return _finish(
                send,
                token,
                status=JourneySend.Status.FAILED,
                reason="reply_unconfirmed",
                error_message="A reply was being sent when its worker was lost, and its token "
                "has expired since: LINE cannot say whether it went out, so it is not pushed "
                "(that could deliver it twice).",
            )
    # Written before the call: a worker lost during it leaves this on the row.
    via = JourneySend.Via.REPLY if reply_token else JourneySend.Via.PUSH
    if not SEND_LEASE.held_rows(pk=send.pk, **token).update(
        via=via, first_attempt_at=Coalesce(F("first_attempt_at"), now), messages=messages
    ):
        raise LeaseLost(send.pk)
    item = SendItem(
        ids=[send.pk],
        to=send.line_id,
        messages=messages,
        retry_key=str(send.retry_key),
        prior_attempts=send.attempts,
        prior_first_at=send.first_attempt_at,
        reply_token=reply_token,
        reply_tried_before=tried_reply,
    )
    sender = JourneySender(
        connection=run.journey.connection,
        mode="push",  # a reply is in push's rate-limit group (lineapi RATE_GROUPS)
        notification_disabled=False,
        units=None,
        label=f"journey send {send.pk}",
    )

    def heartbeat(_finished: list[Item]) -> None:
        if not SEND_LEASE.renew(send.pk, token=token):
            raise LeaseLost(send.pk)

    sender.send([item], interval=option("CAMPAIGN_HEARTBEAT_SECONDS"), between=heartbeat)
    fields = {
        "via": item.via or via,
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
    if not _finish(send, token, **fields):
        raise LeaseLost(send.pk)
    return True


def run_finish(run_id: int) -> None:
    """A run whose sends are all final takes its status from them."""
    sends = list(JourneySend.objects.filter(run_id=run_id).values_list("status", "reason"))
    if any(status in JourneySend.OPEN for status, _ in sends):
        return
    statuses = [s for s, _ in sends]
    reason = ""
    if JourneySend.Status.FAILED in statuses:
        status = JourneyRun.Status.FAILED
        reason = next(r for s, r in sends if s == JourneySend.Status.FAILED)
    elif JourneySend.Status.SENT in statuses:
        status = JourneyRun.Status.SENT
    else:
        status = JourneyRun.Status.SKIPPED
        reason = next((r for _, r in sends if r), "")
    JourneyRun.objects.filter(pk=run_id, status=JourneyRun.Status.QUEUED).update(
        status=status, reason=reason[:32], finished_at=timezone.now()
    )


def sends_sweep() -> dict[str, int]:
    """Every 10 s: sends whose worker was lost go back to pending and are queued again; pending
    sends whose task was lost are queued again; runs left open with nothing to send finish."""
    runs: set[int] = set()
    released = SEND_LEASE.sweep(
        {"status": JourneySend.Status.PENDING}, on_release=lambda row: runs.add(row.run_id)
    )
    now = timezone.now()
    cutoff = now - REQUEUE_AFTER
    lost = JourneySend.objects.filter(
        status=JourneySend.Status.PENDING, created_at__lt=cutoff
    ).filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff))
    lost_ids = list(lost.values_list("pk", "run_id")[:1000])
    if lost_ids:
        JourneySend.objects.filter(pk__in=[pk for pk, _ in lost_ids]).update(claimed_at=now)
        runs.update(run_id for _, run_id in lost_ids)
    for run_id in sorted(runs):
        enqueue_run(run_id)
    stale = JourneyRun.objects.filter(
        status=JourneyRun.Status.QUEUED, created_at__lt=cutoff
    ).exclude(sends__status__in=JourneySend.OPEN)
    finished = 0
    for run_id in stale.values_list("pk", flat=True)[:1000]:
        run_finish(run_id)
        finished += 1
    return {"released": len(released), "requeued": len(lost_ids), "finished": finished}
