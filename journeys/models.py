"""Journeys (docs/design.md §11): a journey's editable definition, the frozen versions contacts
enter with, one run per trigger, and one send row per run and send step: the ledger the
journey's figures are counted from, as deliveries are for campaigns."""

import uuid

from django.conf import settings
from django.db import models


def entry_once() -> str:
    return "once"


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class Trigger(models.TextChoices):
        FOLLOW = "follow", "A new friend (follow)"
        KEYWORD = "keyword", "A keyword in a message"
        POSTBACK = "postback", "A postback (button or rich menu)"
        JOIN = "join", "The bot joins a group or room"
        EVENT = "event", "An event from your systems"
        API = "api", "An API call (transactional)"

    name = models.CharField(max_length=200)
    connection = models.ForeignKey(
        "connections.Connection", on_delete=models.PROTECT, related_name="journeys"
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    # The definition being edited; activation freezes it into a JourneyVersion.
    trigger = models.JSONField(default=dict)
    entry_conditions = models.JSONField(null=True, blank=True)
    entry = models.JSONField(default=entry_once)
    steps = models.JSONField(default=list)
    transactional = models.BooleanField(default=False)
    daily_limit = models.PositiveSmallIntegerField(default=3)
    # Flows (#14): a goal that ends a run as converted, when a run leaves early, the hours
    # nothing is sent, and the zone for times of day when a contact has none.
    goal = models.JSONField(null=True, blank=True)
    exit_when = models.JSONField(null=True, blank=True)
    quiet_hours = models.JSONField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    current_version = models.ForeignKey(
        "JourneyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    EDITABLE = (Status.DRAFT, Status.ACTIVE, Status.PAUSED)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_type(self) -> str:
        return self.trigger.get("type", "") if isinstance(self.trigger, dict) else ""


class JourneyVersion(models.Model):
    """A journey's definition as it was activated: a run finishes with the version it entered."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    trigger_type = models.CharField(max_length=10, choices=Journey.Trigger)
    trigger = models.JSONField()
    entry_conditions = models.JSONField(null=True, blank=True)
    entry = models.JSONField()
    steps = models.JSONField()
    transactional = models.BooleanField(default=False)
    daily_limit = models.PositiveSmallIntegerField(default=3)
    goal = models.JSONField(null=True, blank=True)
    exit_when = models.JSONField(null=True, blank=True)
    quiet_hours = models.JSONField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.number}"


class JourneyRun(models.Model):
    """One trigger of a journey for one contact: entered (and sent), or skipped with why."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # A worker holds it (the run lease) and moves it through its steps.
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        EXITED = "exited", "Exited"
        CONVERTED = "converted", "Converted (goal)"

    # A run in one of these is in the journey: the contact does not enter it again meanwhile.
    OPEN = (Status.QUEUED, Status.RUNNING, Status.WAITING)

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="runs")
    contact = models.ForeignKey(
        "audiences.Contact", null=True, on_delete=models.SET_NULL, related_name="journey_runs"
    )
    line_id = models.CharField(max_length=33)
    # What made it, unique per journey: an event processed twice enters once
    # ("wh:<webhookEventId>", "ev:<custom event id>", "api:<idempotency key>").
    trigger_key = models.CharField(max_length=300)
    trigger_type = models.CharField(max_length=10, choices=Journey.Trigger)
    # The Liquid context's `event` (name, properties) or `data` (api).
    payload = models.JSONField(default=dict, blank=True)
    reply_token = models.CharField(max_length=255, blank=True)
    reply_token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    # Why it was skipped (unfollowed, opted_out, frequency_cap, already_entered, ...), or why
    # its send failed, or why it exited.
    reason = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    # Where it is: the index of its step in the version's steps, and how many moves it made
    # (a send row is keyed by the move, so a loop sends again and a re-run after a crash not).
    step_index = models.PositiveSmallIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    # A waiting run wakes at this time (the timer claims due runs by this index).
    wake_at = models.DateTimeField(null=True, blank=True)
    # What a wait_for step waits for, and whether it happened: {"event": name, "happened": true}.
    waiting_for = models.JSONField(null=True, blank=True)
    # The run lease (kit.leases): heartbeat while running, and the claim's token.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claims = models.PositiveIntegerField(default=0)
    # A marketer's test ("Test with a contact"): waits shortened to seconds, no entry rules,
    # left out of the journey's figures.
    test = models.BooleanField(default=False)
    # Each step it passed: [{"step": id, "type": ..., "at": iso time, "outcome": ...}].
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "trigger_key"], name="journey_run_once")
        ]
        indexes = [
            models.Index(fields=["journey", "contact", "status"]),
            models.Index(fields=["journey", "status", "id"]),
            models.Index(fields=["journey", "created_at"]),
            models.Index(fields=["status", "wake_at"]),
            models.Index(fields=["contact", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.line_id}:{self.status}"


class JourneySend(models.Model):
    """One send step of one run: the campaign engine's ledger row (docs/design.md §4.2), with
    the API that carried it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Via(models.TextChoices):
        NONE = "", "—"
        REPLY = "reply", "Replied (free)"
        PUSH = "push", "Pushed"

    OPEN = (Status.PENDING, Status.SENDING)
    ATTEMPTED = (Status.SENT, Status.FAILED)

    run = models.ForeignKey(JourneyRun, on_delete=models.CASCADE, related_name="sends")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey(
        "audiences.Contact", null=True, on_delete=models.SET_NULL, related_name="journey_sends"
    )
    step = models.PositiveSmallIntegerField()
    # The run's move that reached this step (JourneyRun.position): unique per run.
    position = models.PositiveIntegerField(default=0)
    line_id = models.CharField(max_length=33)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    via = models.CharField(max_length=5, choices=Via, blank=True)
    # Fixed before the first attempt, derived from the run's trigger key and the step.
    retry_key = models.UUIDField(default=uuid.uuid4)
    reason = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    accepted_request_id = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=list, blank=True)
    messages = models.JSONField(default=list, blank=True)
    # Counts toward the global frequency cap: every send of a journey not marked transactional.
    marketing = models.BooleanField(default=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="journey_send_once_per_move")
        ]
        indexes = [
            models.Index(fields=["journey", "status"]),
            models.Index(fields=["contact", "status", "finished_at"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["journey", "contact", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.step}:{self.status}"
