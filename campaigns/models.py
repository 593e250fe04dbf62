import uuid
from collections.abc import Mapping

from django.conf import settings
from django.db import models

# Failures a new attempt can fix; the others (invalid request, not found, ...) would fail again.
RETRYABLE_REASONS = ("rate_limit", "server_error", "timeout", "connection_error", "unknown_outcome")
# A campaign's figures (docs/design.md §3), cached on the campaign as counters of its delivery rows.
FIGURES = ("attempted", "sent", "failed", "skipped", "not_sent")


def figures_from_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The figures of delivery rows counted by status; the one place Attempted is defined.
    Skipped rows were left out on purpose (frequency cap, opt-out, unfollowed); not-sent rows
    were never tried because the campaign was cancelled or expired first."""
    sent, failed = counts.get("sent", 0), counts.get("failed", 0)
    return {
        "attempted": sent + failed,
        "sent": sent,
        "failed": failed,
        "skipped": counts.get("skipped", 0),
        "not_sent": counts.get("not_sent", 0),
    }


class MessageTemplate(models.Model):
    """1 to 5 LINE message objects whose string fields may hold Liquid placeholders."""

    name = models.CharField(max_length=200)
    messages = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    # The status groups, declared once (docs/design.md §3).
    LIVE = (Status.SENDING, Status.PAUSED)
    FINISHED = (Status.COMPLETED, Status.CANCELLED, Status.EXPIRED)
    CANCELLABLE = (Status.SCHEDULED, Status.SENDING, Status.PAUSED)
    EDITABLE = (Status.DRAFT, Status.SCHEDULED)

    class Audience(models.TextChoices):
        SEGMENT = "segment", "A segment"
        ALL_FOLLOWING = "all_following", "All following contacts"
        EXPLICIT = "explicit", "Explicit LINE ids"
        # The recipients of `parent` whose failure a retry can fix, chosen at launch.
        RETRY = "retry", "Failed recipients of an earlier campaign"

    name = models.CharField(max_length=200)
    connection = models.ForeignKey("connections.Connection", on_delete=models.PROTECT)
    audience_type = models.CharField(max_length=16, choices=Audience, default=Audience.SEGMENT)
    segment = models.ForeignKey(
        "audiences.Segment", null=True, blank=True, on_delete=models.PROTECT
    )
    explicit_ids = models.JSONField(default=list, blank=True)
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    # Copied from the template (or written inline) and frozen at launch.
    messages = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.DRAFT, db_index=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    send_by = models.DateTimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    notification_disabled = models.BooleanField(default=False)
    frequency_cap_enabled = models.BooleanField(default=True)
    # The cap that chose the recipients, as `FrequencyCap.summary` said it at snapshot.
    frequency_cap_applied = models.CharField(max_length=60, blank=True)
    aggregation_unit = models.CharField(max_length=30, blank=True)
    pause_reason = models.TextField(blank=True)
    # push, or multicast for messages that are the same for everyone (decided at snapshot).
    send_mode = models.CharField(max_length=10, blank=True)
    # Seeds the deterministic retry keys of this campaign's requests (set at snapshot).
    retry_salt = models.CharField(max_length=32, blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        help_text="The campaign whose failed recipients this one retries.",
    )

    # A cache of counts over the delivery rows, kept exact by the engine (docs/design.md §3).
    recipients_total = models.PositiveIntegerField(default=0)
    attempted = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Never tried: the campaign was cancelled or expired first (reason `cancelled`/`expired`).
    not_sent = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    # When rows were last written (set with the counters): "Resuming…" lasts until it passes
    # `resumed_at`.
    last_result_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def figures(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FIGURES}

    @property
    def settled_recipients(self) -> int:
        """Recipients whose row will not change any more: attempted, skipped or not sent."""
        return self.attempted + self.skipped + self.not_sent


class DeliveryQuerySet(models.QuerySet):
    def retryable_failures(self) -> "DeliveryQuerySet":
        """The failed rows a retry campaign sends to again: failed for a reason a new attempt can
        fix, contact not deleted since. The one definition, for the engine's retry audience and
        the retry offer alike (docs/design.md §3)."""
        return self.filter(
            status=Delivery.Status.FAILED, reason__in=RETRYABLE_REASONS, contact__isnull=False
        )


class Delivery(models.Model):
    """One recipient of one campaign: the ledger every campaign figure is counted from."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        NOT_SENT = "not_sent", "Not sent (cancelled / expired)"

    # Rows the engine may still send; every other status is final.
    OPEN = (Status.PENDING, Status.SENDING)
    ATTEMPTED = (Status.SENT, Status.FAILED)

    # No single-column indexes: the composite indexes below start with these columns, and every
    # index costs time on each of a million-row snapshot's inserts.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    contact = models.ForeignKey(
        "audiences.Contact",
        null=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_index=False,
    )
    line_id = models.CharField(max_length=33)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    batch = models.PositiveIntegerField(default=0)
    # Fixed before the first attempt and never changed; shared by the rows of one multicast.
    retry_key = models.UUIDField(default=uuid.uuid4)
    # Why a row was skipped or failed, as a short code (frequency_cap, opted_out, unfollowed,
    # invalid_request, rate_limit, server_error, timeout, personalization, unknown_outcome, ...).
    reason = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    accepted_request_id = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="delivery_once_per_contact"
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "batch", "status"]),
            models.Index(fields=["campaign", "status", "id"]),
            models.Index(fields=["campaign", "line_id"]),
            models.Index(fields=["contact", "status", "finished_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.line_id}:{self.status}"


class DeliveryBatch(models.Model):
    """Up to 500 deliveries sent by one task; the unit that is claimed, leased and swept."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DONE = "done", "Done"

    class Mode(models.TextChoices):
        PUSH = "push", "Push"
        MULTICAST = "multicast", "Multicast"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    mode = models.CharField(max_length=10, choices=Mode, default=Mode.PUSH)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    size = models.PositiveIntegerField(default=0)
    # The multicast request's retry key; push requests use each delivery's own key.
    retry_key = models.UUIDField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Set by the claim and renewed by the worker's heartbeat while it sends: the lease.
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="batch_number_once")
        ]
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.number}:{self.status}"


class FrequencyCap(models.Model):
    """The one row of the frequency-cap setting: at most `max_messages` campaigns in `days`."""

    max_messages = models.PositiveIntegerField(null=True, blank=True)
    days = models.PositiveIntegerField(default=7)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Frequency cap: {self.summary}"

    @property
    def summary(self) -> str:
        if not self.max_messages:
            return "none set"
        days = "1 day" if self.days == 1 else f"{self.days} days"
        return f"at most {self.max_messages} in {days}"

    @property
    def enabled(self) -> bool:
        return bool(self.max_messages)
