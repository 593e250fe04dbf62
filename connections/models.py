import secrets

from django.conf import settings
from django.db import models

from kit.crypto import EncryptedTextField, mask
from lineapi import LINE_ID_RE


def _webhook_slug() -> str:
    return secrets.token_urlsafe(18)


def _default_api_base_url() -> str:
    return settings.LINE_API_BASE_URL


# LINE's own limits on the send endpoints, in requests per second (docs/design.md §6).
LINE_PUSH_RATE = 2000
LINE_MULTICAST_RATE = 200


class ConnectionQuerySet(models.QuerySet):
    def current(self) -> "ConnectionQuerySet":
        return self.filter(deleted_at__isnull=True)


class CurrentConnectionManager(models.Manager.from_queryset(ConnectionQuerySet)):
    """Hides deleted connections everywhere; a campaign still reaches its own through the
    relation (Django follows relations with the plain base manager)."""

    def get_queryset(self) -> ConnectionQuerySet:
        return super().get_queryset().current()


class Connection(models.Model):
    """A LINE Messaging API channel the dashboard sends through.

    Deleting one that past campaigns used keeps the row, without token and secret, so their
    reports still name the channel they went out on (`deleted_at` set, hidden by `objects`)."""

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        ACTIVE = "active", "Active"
        INVALID = "invalid", "Invalid"

    name = models.CharField(max_length=100, unique=True)
    channel_access_token = EncryptedTextField()
    channel_secret = EncryptedTextField()
    api_base_url = models.URLField(max_length=300, default=_default_api_base_url)
    is_sandbox = models.BooleanField(
        default=False, help_text="Points at the bundled LINE emulator, not real LINE."
    )

    status = models.CharField(max_length=16, choices=Status, default=Status.UNVERIFIED)
    last_error = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    # Bot profile from GET /v2/bot/info; bot_user_id equals the webhook `destination`.
    bot_user_id = models.CharField(max_length=33, blank=True, db_index=True)
    basic_id = models.CharField(max_length=64, blank=True)
    bot_display_name = models.CharField(max_length=255, blank=True)
    bot_picture_url = models.URLField(max_length=1000, blank=True)
    chat_mode = models.CharField(max_length=16, blank=True)

    webhook_slug = models.CharField(max_length=32, unique=True, default=_webhook_slug)

    # Per-connection send limits (requests per second), at or below LINE's.
    push_rate_limit = models.PositiveIntegerField(default=LINE_PUSH_RATE)
    multicast_rate_limit = models.PositiveIntegerField(default=LINE_MULTICAST_RATE)

    # Monthly quota from /v2/bot/message/quota and /quota/consumption.
    quota_type = models.CharField(max_length=16, blank=True)
    quota_limit = models.PositiveIntegerField(null=True, blank=True)
    quota_used = models.PositiveIntegerField(null=True, blank=True)
    quota_checked_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    all_objects = models.Manager()
    objects = CurrentConnectionManager()

    class Meta:
        ordering = ["name"]
        default_manager_name = "objects"
        base_manager_name = "all_objects"

    def __str__(self) -> str:
        return self.name

    @property
    def masked_token(self) -> str:
        return mask(self.channel_access_token)

    @property
    def masked_secret(self) -> str:
        return mask(self.channel_secret)

    @property
    def quota_remaining(self) -> int | None:
        if self.quota_type == "none":
            return None
        if self.quota_limit is None or self.quota_used is None:
            return None
        return max(self.quota_limit - self.quota_used, 0)


class WebhookEvent(models.Model):
    """One event LINE posted to a connection's webhook, stored once whatever the redeliveries."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="webhook_events"
    )
    webhook_event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=32, db_index=True)
    source_id = models.CharField(max_length=33, blank=True)
    event_time = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField()
    status = models.CharField(max_length=12, choices=Status, default=Status.PENDING)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # What was changed to store the event (U+0000 escaped, nesting cut, ...), one per line.
    sanitized = models.TextField(blank=True)
    redelivery_count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_event_id}"

    @property
    def line_id(self) -> str:
        """The user (follow, unfollow) or conversation the event is about, "" when none is valid."""
        source = self.raw.get("source") if isinstance(self.raw.get("source"), dict) else {}
        line_id = source.get("userId") if self.type in ("follow", "unfollow") else self.source_id
        return line_id if isinstance(line_id, str) and LINE_ID_RE.match(line_id) else ""
