"""Writes for LINE connections: verify and save channels, webhooks in, their processing.

Tokens and secrets pass through here in clear; nothing in this module logs them, puts them in
an exception message or in the audit log (`sensitive_variables` keeps them out of error pages).
"""

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections import dispatch, hooks
from connections.line import line_call
from connections.models import (
    LINE_MULTICAST_RATE,
    LINE_PUSH_RATE,
    Connection,
    WebhookEvent,
)
from kit import crypto
from kit.enqueue import enqueue
from kit.leases import Lease
from kit.services import audit_record
from lineapi import (
    BotInfo,
    LineApiError,
    LineAuthError,
    LineConnectionError,
    LineTimeoutError,
    event_source_id,
    line_error_message,
    parse_webhook,
    strictjson,
    verify_signature,
)
from lineapi.webhooks import InvalidEvent
from lineapi.webhooks import WebhookEvent as ParsedEvent

logger = logging.getLogger(__name__)

LINE_HOST = "api.line.me"
# The only places a channel token goes unless LINE_API_BASE_URL_ALLOWLIST names another.
LINE_BASE_URLS = ("https://api.line.me", "https://api-data.line.me")
SWEEP_PENDING_AFTER = timedelta(minutes=1)
SWEEP_PROCESSING_AFTER = timedelta(minutes=10)
PROCESS_WEBHOOK_EVENTS = "connections.process_webhook_events"
# An event a worker claimed but did not finish within SWEEP_PROCESSING_AFTER goes back to pending.
WEBHOOK_EVENT_LEASE = Lease(
    WebhookEvent,
    held=WebhookEvent.Status.PROCESSING,
    stamp="claimed_at",
    seconds=SWEEP_PROCESSING_AFTER.total_seconds(),
)
# LINE redelivers for hours, not months: older events only fill the table.
WEBHOOK_EVENT_RETENTION = timedelta(days=90)


class ConnectionVerifyError(Exception):
    """LINE (or the network) refused the credentials; `field` names the input to fix."""

    def __init__(self, message: str, *, field: str = "channel_access_token") -> None:
        super().__init__(message)
        self.message, self.field = message, field


class ConnectionDuplicateError(Exception):
    """The channel (same bot user id) is already connected; saved only when confirmed."""

    def __init__(self, existing: Connection) -> None:
        self.existing = existing
        self.message = (
            f"This LINE channel is already connected as “{existing.name}” (bot "
            f"{existing.bot_display_name or existing.bot_user_id}). A second connection sends "
            "through the same channel and quota, and LINE's webhook can point at only one of "
            "them. Confirm to add it anyway."
        )
        super().__init__(self.message)


class ConnectionInUseError(Exception):
    pass


class WebhookSignatureError(Exception):
    pass


def _normalized_base_url(api_base_url: str | None) -> str:
    return (api_base_url or settings.LINE_API_BASE_URL).strip().rstrip("/")


def _url_key(url: str) -> tuple[str, str | None, int | str | None, str] | None:
    """(scheme, host, port, path) of a base URL, None if it has no valid port; port "*" in an
    allow-list entry (http://127.0.0.1:*) stands for any port."""
    url = url.strip()
    authority = url.partition("://")[2].partition("/")[0]
    any_port = authority.endswith(":*")
    parts = urlsplit(url.replace(authority, authority[:-2], 1) if any_port else url)
    try:
        port = "*" if any_port else parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return None
    return parts.scheme.lower(), parts.hostname, port, parts.path.rstrip("/")


def _allowed_base_url(base_url: str) -> bool:
    parts = urlsplit(base_url)
    key = _url_key(base_url)
    if key is None or parts.username or parts.password or parts.query or parts.fragment:
        return False
    allowed = [*LINE_BASE_URLS, settings.LINE_API_BASE_URL, *settings.LINE_API_BASE_URL_ALLOWLIST]
    for entry in map(_url_key, allowed):
        if entry and entry[:2] + entry[3:] == key[:2] + key[3:] and entry[2] in (key[2], "*"):
            return True
    return False


def _check_base_url(base_url: str) -> None:
    """The channel token is sent to this address: LINE's, or one the operator allowed."""
    if not _allowed_base_url(base_url):
        raise ConnectionVerifyError(
            f"{base_url} is not LINE's API ({' or '.join(LINE_BASE_URLS)}). Another address "
            "(such as the LINE emulator) must be listed in the LINE_API_BASE_URL_ALLOWLIST "
            "setting first: the channel access token is sent there.",
            field="api_base_url",
        )


def _is_sandbox(api_base_url: str) -> bool:
    return urlsplit(api_base_url).hostname != LINE_HOST


def _bot_info(connection: Connection) -> BotInfo:
    try:
        return line_call(connection, lambda client: client.bot_info())
    except LineApiError as exc:
        raise ConnectionVerifyError(
            line_error_message(exc, base_url=connection.api_base_url),
            field="api_base_url"
            if isinstance(exc, LineTimeoutError | LineConnectionError)
            else "channel_access_token",
        ) from None


def _apply_bot_info(connection: Connection, info: BotInfo) -> None:
    connection.bot_user_id = info.user_id
    connection.basic_id = info.basic_id
    connection.bot_display_name = info.display_name
    connection.bot_picture_url = info.picture_url or ""
    connection.chat_mode = info.chat_mode
    connection.status = Connection.Status.ACTIVE
    connection.last_error = ""
    connection.verified_at = timezone.now()


@sensitive_variables("channel_access_token", "channel_secret")
def connection_create(
    *,
    actor: AbstractUser | None,
    name: str,
    channel_access_token: str,
    channel_secret: str,
    api_base_url: str | None = None,
    push_rate_limit: int | None = None,
    multicast_rate_limit: int | None = None,
    confirm_duplicate: bool = False,
) -> Connection:
    """Verify the token with LINE's bot info, then save; nothing is saved when LINE says no,
    nor when the channel is already connected and `confirm_duplicate` is not given."""
    _printable(channel_access_token, "channel_access_token")
    _printable(channel_secret, "channel_secret")
    base_url = _normalized_base_url(api_base_url)
    _check_base_url(base_url)
    if Connection.objects.filter(name=name.strip()).exists():
        raise ConnectionVerifyError(
            f"A connection named {name.strip()!r} already exists.", field="name"
        )
    connection = Connection(
        name=name.strip(),
        channel_access_token=channel_access_token.strip(),
        channel_secret=channel_secret.strip(),
        api_base_url=base_url,
        is_sandbox=_is_sandbox(base_url),
        push_rate_limit=_rate(push_rate_limit, LINE_PUSH_RATE, "push_rate_limit"),
        multicast_rate_limit=_rate(
            multicast_rate_limit, LINE_MULTICAST_RATE, "multicast_rate_limit"
        ),
    )
    _apply_bot_info(connection, _bot_info(connection))
    if not confirm_duplicate:
        _refuse_duplicate(connection)
    try:
        with transaction.atomic():
            connection.save()
            audit_record(
                actor=actor,
                action="connection.create",
                target=connection,
                details={"api_base_url": base_url, "bot": connection.bot_display_name},
            )
    except IntegrityError:
        raise ConnectionVerifyError(
            f"A connection named {connection.name!r} already exists.", field="name"
        ) from None
    logger.info("connection %s created and verified", connection.pk)
    connection_refresh_quota(connection=connection)
    return connection


@sensitive_variables("channel_access_token", "channel_secret")
def connection_update(
    *,
    actor: AbstractUser | None,
    connection: Connection,
    name: str,
    api_base_url: str | None = None,
    channel_access_token: str = "",
    channel_secret: str = "",
    push_rate_limit: int | None = None,
    multicast_rate_limit: int | None = None,
    confirm_duplicate: bool = False,
) -> Connection:
    """Rename, move or rotate credentials; a new token or base URL is re-verified first, and a
    token of a channel another connection already holds needs `confirm_duplicate`, as on add.

    A new base URL needs the token entered again: verifying sends it to that address, and the
    stored token must not go anywhere an Admin types without knowing it."""
    changes: list[str] = []
    _printable(channel_access_token, "channel_access_token")
    _printable(channel_secret, "channel_secret")
    base_url = _normalized_base_url(api_base_url)
    candidate = Connection.objects.get(pk=connection.pk)
    for field, value, line_max in (
        ("push_rate_limit", push_rate_limit, LINE_PUSH_RATE),
        ("multicast_rate_limit", multicast_rate_limit, LINE_MULTICAST_RATE),
    ):
        if value is not None and _rate(value, line_max, field) != getattr(candidate, field):
            setattr(candidate, field, value)
            changes.append(field)
    if name.strip() != candidate.name:
        candidate.name = name.strip()
        changes.append("name")
    details: dict = {}
    if base_url != candidate.api_base_url:
        _check_base_url(base_url)
        if not channel_access_token.strip():
            raise ConnectionVerifyError(
                "Enter the channel access token again to change the API base URL: it is sent "
                "to the new address to verify it.",
                field="channel_access_token",
            )
        details["api_base_url"] = {"old": candidate.api_base_url, "new": base_url}
        candidate.api_base_url, candidate.is_sandbox = base_url, _is_sandbox(base_url)
        changes.append("api_base_url")
    if channel_access_token.strip():
        candidate.channel_access_token = channel_access_token.strip()
        changes.append("channel_access_token")
    if channel_secret.strip():
        candidate.channel_secret = channel_secret.strip()
        changes.append("channel_secret")
    if {"api_base_url", "channel_access_token"} & set(changes):
        _apply_bot_info(candidate, _bot_info(candidate))
        if not confirm_duplicate:
            _refuse_duplicate(candidate)
    if not changes:
        return connection
    try:
        with transaction.atomic():
            candidate.save()
            audit_record(
                actor=actor,
                action=_update_action(changes),
                target=candidate,
                details={"changed": changes, **details},
            )
    except IntegrityError:
        raise ConnectionVerifyError(
            f"A connection named {candidate.name!r} already exists.", field="name"
        ) from None
    if "channel_access_token" in changes:
        connection_refresh_quota(connection=candidate)
    return candidate


def _refuse_duplicate(connection: Connection) -> None:
    """Another active connection to the same channel (LINE's bot user id) sends to the same
    people: adding or re-pointing one needs the Admin's say-so."""
    if not connection.bot_user_id:
        return
    existing = (
        Connection.objects.filter(
            bot_user_id=connection.bot_user_id, status=Connection.Status.ACTIVE
        )
        .exclude(pk=connection.pk)
        .first()
    )
    if existing is not None:
        raise ConnectionDuplicateError(existing)


def _printable(value: str, field: str) -> None:
    """A token or secret goes into an HTTP header or an HMAC key: no line breaks or controls."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value.strip()):
        raise ConnectionVerifyError(
            "This contains a line break or another control character; paste it again.",
            field=field,
        )


def _rate(value: int | None, line_max: int, field: str) -> int:
    """A send limit at or below LINE's; unset means LINE's own."""
    if value is None:
        return line_max
    if not 1 <= value <= line_max:
        raise ConnectionVerifyError(
            f"Choose from 1 to {line_max:,} requests per second (LINE's limit).", field=field
        )
    return value


def _update_action(changes: list[str]) -> str:
    if "channel_access_token" in changes:
        return "connection.rotate_token"
    if "channel_secret" in changes:
        return "connection.rotate_secret"
    return "connection.update"


def connection_check(*, connection: Connection, actor: AbstractUser | None = None) -> Connection:
    """ "Check again": verify the token now and record the outcome, good or bad."""
    try:
        _apply_bot_info(connection, _bot_info(connection))
    except ConnectionVerifyError as exc:
        connection.status, connection.last_error = Connection.Status.INVALID, exc.message
    connection.save(
        update_fields=[
            "status",
            "last_error",
            "verified_at",
            "bot_user_id",
            "basic_id",
            "bot_display_name",
            "bot_picture_url",
            "chat_mode",
            "updated_at",
        ]
    )
    if connection.status == Connection.Status.ACTIVE:
        connection_refresh_quota(connection=connection)
    audit_record(
        actor=actor,
        action="connection.check",
        target=connection,
        details={"status": connection.status},
    )
    return connection


def connection_refresh_quota(*, connection: Connection) -> Connection:
    """Fetch the monthly quota and consumption; failures leave the last known figures."""

    async def fetch(client):
        return await client.quota(), await client.quota_consumption()

    try:
        quota, used = line_call(connection, fetch)
    except LineApiError as exc:
        logger.warning("quota refresh failed for connection %s: %s", connection.pk, exc)
        if isinstance(exc, LineAuthError):
            connection_mark_invalid(
                connection=connection,
                message=line_error_message(exc, base_url=connection.api_base_url),
            )
        return connection
    connection.quota_type = quota.type
    connection.quota_limit = quota.value if quota.type == "limited" else None
    connection.quota_used = used
    connection.quota_checked_at = timezone.now()
    connection.save(
        update_fields=["quota_type", "quota_limit", "quota_used", "quota_checked_at", "updated_at"]
    )
    return connection


def connection_mark_invalid(*, connection: Connection, message: str) -> Connection:
    """LINE refused the token (401) outside "Check again": the connection shows why, and
    launches refuse it until a check succeeds."""
    connection.status, connection.last_error = Connection.Status.INVALID, message
    connection.save(update_fields=["status", "last_error", "updated_at"])
    return connection


def connections_refresh_quotas() -> int:
    count = 0
    for connection in Connection.objects.filter(status=Connection.Status.ACTIVE):
        connection_refresh_quota(connection=connection)
        count += 1
    return count


@transaction.atomic
def connection_delete(*, actor: AbstractUser | None, connection: Connection) -> dict:
    """Delete a connection and what goes with it; returns the audit details (draft campaigns
    deleted, finished ones kept: the apps that own them say, docs/design.md §5.3).

    Refused (ConnectionInUseError from a receiver) while something using it would still send
    through it. If rows that must keep their history reference it (on_delete=PROTECT), the
    row is kept without token and secret, renamed "… (deleted)", and hidden from every list,
    picker and the webhook.
    """
    details: dict = {}
    for answer in hooks.responses(hooks.connection_deleting, connection):
        details.update(answer)
    audit_record(actor=actor, action="connection.delete", target=connection, details=details)
    try:
        with transaction.atomic():
            connection.delete()
    except ProtectedError:  # history references it: kept, without its credentials
        _connection_retire(connection)
    return details


def _connection_retire(connection: Connection) -> None:
    now = timezone.now()
    connection.name = _deleted_name(connection)
    connection.channel_access_token = connection.channel_secret = ""
    connection.status = Connection.Status.INVALID
    connection.last_error = f"Deleted on {now:%Y-%m-%d}."
    connection.deleted_at = now
    connection.save()


def _deleted_name(connection: Connection) -> str:
    """Frees the name for a new connection; unique among deleted ones too."""
    suffix = " (deleted)"
    if Connection.all_objects.filter(name=connection.name[:90] + suffix).exists():
        suffix = f" (deleted #{connection.pk})"
    return connection.name[: 100 - len(suffix)] + suffix


def connections_rotate_secrets() -> int:
    """Re-encrypt every token and secret with the newest FIELD_ENCRYPTION_KEY; returns how many."""
    from django.db import connection as db

    table = db.ops.quote_name(Connection._meta.db_table)
    # Raw SQL on purpose: the model field would decrypt and re-encrypt through Python objects;
    # rotate() works on the ciphertext and never needs the plain text in a variable.
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute(f"SELECT id, channel_access_token, channel_secret FROM {table}")
        rows = cursor.fetchall()
        for pk, token, secret in rows:
            cursor.execute(
                f"UPDATE {table} SET channel_access_token = %s, channel_secret = %s WHERE id = %s",
                [crypto.rotate(token), crypto.rotate(secret), pk],
            )
    return len(rows)


# --- webhooks -----------------------------------------------------------------------------------


def _event_time(timestamp: object) -> datetime | None:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):  # beyond what a datetime holds: no time
        return None


def _event_row(
    connection: Connection, event: ParsedEvent | dict | InvalidEvent, error: str
) -> WebhookEvent:
    """The row that stores one event as it arrived, less what the database cannot hold (escaped
    or replaced, and named in `sanitized`). A typed event waits for processing; an event type
    lineapi does not know (a raw dict) is stored ignored; an item that is not an event, failed."""
    raw = event.raw if isinstance(event, ParsedEvent | InvalidEvent) else event
    clean, notes = strictjson.storable(raw)
    row = WebhookEvent(
        connection=connection,
        raw=clean,
        status=WebhookEvent.Status.PENDING,
        error=error,
        sanitized="\n".join(notes),
    )
    if isinstance(event, InvalidEvent):
        row.status, row.error = WebhookEvent.Status.FAILED, f"Not an event: {event.error}"
    elif not isinstance(event, ParsedEvent):
        row.status = WebhookEvent.Status.IGNORED
        row.error = error or f"unknown event type {clean['type']!r}: stored, not processed"
    elif error:
        row.status = WebhookEvent.Status.IGNORED
    if isinstance(clean, dict):
        event_id, kind = clean.get("webhookEventId"), clean.get("type")
        source_id = event_source_id(clean)
        row.type = kind[:32] if isinstance(kind, str) else ""
        row.source_id = source_id[:33] if isinstance(source_id, str) else ""
        row.event_time = _event_time(clean.get("timestamp"))
        row.webhook_event_id = event_id[:64] if isinstance(event_id, str) and event_id else ""
    row.webhook_event_id = row.webhook_event_id or _fallback_event_id(clean)
    return row


def _failed_row(connection: Connection, raw: object, exc: Exception) -> WebhookEvent:
    """Storing an event never costs the delivery its other events: whatever went wrong with
    this one is stored with it."""
    logger.exception("webhook event could not be read; stored as failed")
    clean, notes = strictjson.storable(raw)
    return WebhookEvent(
        connection=connection,
        webhook_event_id=_fallback_event_id(clean),
        type="",
        raw=clean,
        status=WebhookEvent.Status.FAILED,
        error=f"Could not be read: {type(exc).__name__}: {exc}",
        sanitized="\n".join(notes),
    )


def webhook_receive(*, connection: Connection, raw_body: bytes, signature: str | None) -> int:
    """Verify, parse and store the events of one delivery; returns how many were new.

    No call to LINE here: LINE wants its answer within 2 s, processing happens in Celery. Only a
    bad signature or an unusable envelope refuses the delivery; each event is stored on its own.
    """
    if not verify_signature(connection.channel_secret, raw_body, signature):
        raise WebhookSignatureError("The x-line-signature header does not match the body.")
    envelope = parse_webhook(raw_body)
    error = ""
    if connection.bot_user_id and envelope.destination != connection.bot_user_id:
        destination, _ = strictjson.storable(envelope.destination)
        error = (
            f"destination {destination} is not this channel's bot "
            f"({connection.bot_user_id}): stored, not processed"
        )
    by_id: dict[str, WebhookEvent] = {}
    for event in envelope.events:
        try:
            row = _event_row(connection, event, error)
        except Exception as exc:
            raw = event.raw if isinstance(event, ParsedEvent | InvalidEvent) else event
            row = _failed_row(connection, raw, exc)
        by_id.setdefault(row.webhook_event_id, row)
    if not by_id:
        return 0
    with transaction.atomic():
        known = set(
            WebhookEvent.objects.filter(webhook_event_id__in=by_id).values_list(
                "webhook_event_id", flat=True
            )
        )
        if known:
            WebhookEvent.objects.filter(webhook_event_id__in=known).update(
                redelivery_count=F("redelivery_count") + 1
            )
        rows = [row for event_id, row in by_id.items() if event_id not in known]
        WebhookEvent.objects.bulk_create(rows, ignore_conflicts=True)
        new_ids = [
            row.webhook_event_id for row in rows if row.status == WebhookEvent.Status.PENDING
        ]
        if new_ids:
            transaction.on_commit(lambda: _enqueue_processing(new_ids))
    return len(rows)


def _fallback_event_id(raw: object) -> str:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    return "sha256:" + digest[:57]


def _enqueue_processing(webhook_event_ids: list[str]) -> None:
    ids = list(
        WebhookEvent.objects.filter(
            webhook_event_id__in=webhook_event_ids, status=WebhookEvent.Status.PENDING
        ).values_list("pk", flat=True)
    )
    if not ids:
        return
    try:
        enqueue(PROCESS_WEBHOOK_EVENTS, ids)
    except Exception:
        # The events are stored: answer LINE 200 all the same; the sweeper enqueues them.
        logger.exception("could not enqueue webhook events %s; the sweeper will", ids)


def webhook_events_process(*, event_ids: list[int]) -> int:
    """Process the given events in the order they happened; returns how many this call did."""
    done = 0
    ordered = WebhookEvent.objects.filter(pk__in=event_ids).order_by("event_time", "pk")
    for pk in ordered.values_list("pk", flat=True):
        claimed = WEBHOOK_EVENT_LEASE.claim({"pk": pk, "status": WebhookEvent.Status.PENDING})
        if claimed:
            webhook_event_process(
                event=WebhookEvent.objects.select_related("connection").get(pk=pk)
            )
            done += 1
    return done


def webhook_event_process(*, event: WebhookEvent) -> WebhookEvent:
    """Run the handlers the apps registered for the event's type (docs/design.md §5.2)."""
    try:
        handlers = dispatch.handlers_for(event.type)
        if not handlers:
            handled, result = False, {"reason": f"{event.type} events are stored, not processed"}
        else:
            # Before the transaction: a handler's call to LINE (a follower's profile).
            prepared = [h.prepare(event) if h.prepare else None for h in handlers]
            # A savepoint per event: a database error rolls back this event's writes only.
            with transaction.atomic():
                handled, result = dispatch.outcome(handlers, event, prepared)
        event.status = WebhookEvent.Status.PROCESSED if handled else WebhookEvent.Status.IGNORED
        event.result, event.error = result, ""
    except Exception as exc:  # one bad event must not block the others of the delivery
        logger.exception("webhook event %s failed", event.pk)
        event.status, event.error = WebhookEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "result", "error", "processed_at"])
    return event


def webhook_events_sweep() -> int:
    """Re-queue events whose enqueue or worker was lost; returns how many."""
    now = timezone.now()
    WEBHOOK_EVENT_LEASE.sweep({"status": WebhookEvent.Status.PENDING})
    ids = list(
        WebhookEvent.objects.filter(
            status=WebhookEvent.Status.PENDING, received_at__lt=now - SWEEP_PENDING_AFTER
        ).values_list("pk", flat=True)[:1000]
    )
    if ids:
        enqueue(PROCESS_WEBHOOK_EVENTS, ids)
    return len(ids)


def webhook_events_prune() -> int:
    """Delete handled events past the retention period; returns how many."""
    deleted, _ = WebhookEvent.objects.filter(
        received_at__lt=timezone.now() - WEBHOOK_EVENT_RETENTION,
        status__in=[
            WebhookEvent.Status.PROCESSED,
            WebhookEvent.Status.IGNORED,
            WebhookEvent.Status.FAILED,
        ],
    ).delete()
    return deleted


class NotSandboxError(Exception):
    """Only a Sandbox connection's credentials may be shown: a real channel's never are."""


@sensitive_variables("token", "secret")
def connection_reveal_credentials(*, connection: Connection, actor: AbstractUser) -> dict[str, str]:
    """The Sandbox's token and secret in clear, for an Admin who asked; audited without them."""
    if not connection.is_sandbox:
        raise NotSandboxError(connection.name)
    token, secret = connection.channel_access_token, connection.channel_secret
    audit_record(actor=actor, action="connection.reveal_credentials", target=connection)
    return {"token": token, "secret": secret}
