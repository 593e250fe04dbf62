import json

from django.conf import settings
from django.db import models


class Contact(models.Model):
    """A LINE user, group or room the brand can message, with its own attributes."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        GROUP = "group", "Group"
        ROOM = "room", "Room"

    class FollowStatus(models.TextChoices):
        FOLLOWING = "following", "Following"
        UNFOLLOWED = "unfollowed", "Unfollowed"
        UNKNOWN = "unknown", "Unknown"

    class Source(models.TextChoices):
        IMPORT = "import", "Import"
        API = "api", "API"
        WEBHOOK = "webhook", "Webhook"
        BACKFILL = "backfill", "Follower backfill"
        MANUAL = "manual", "Manual"

    KIND_BY_PREFIX = {"U": Kind.USER, "C": Kind.GROUP, "R": Kind.ROOM}

    line_id = models.CharField(max_length=33, unique=True)
    kind = models.CharField(max_length=8, choices=Kind, default=Kind.USER)
    connection = models.ForeignKey(
        "connections.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # a partial index below: imported contacts have none
    )
    display_name = models.CharField(max_length=255, blank=True)
    picture_url = models.URLField(max_length=1000, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Unique where set (a constraint below), so anonymous contacts cost no index entry.
    external_id = models.CharField(max_length=255, null=True, blank=True)
    follow_status = models.CharField(
        max_length=12, choices=FollowStatus, default=FollowStatus.UNKNOWN
    )
    opted_out = models.BooleanField(default=False)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=Source, default=Source.MANUAL)
    # Line ids of profiles merged into this one (identify/merge), so their history still shows.
    merged_line_ids = models.JSONField(default=list, blank=True)
    # The import that last created or updated the contact ("See the imported contacts"). Set by
    # the import's bulk SQL; no foreign-key constraint and no index, so a million-row import
    # pays for neither (the list pages newest first and stops at a page of matches).
    import_job = models.ForeignKey(
        "ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # Every index costs time on a million-row import, so the ones below skip the rows an
        # import writes (no connection, no interaction yet, unknown follow status, users),
        # and there is none on display_name (searched with icontains) or source.
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="contact_external_id_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["follow_status", "opted_out"],
                condition=~models.Q(follow_status="unknown"),
                name="contact_follow_known_idx",
            ),
            models.Index(
                fields=["kind"], condition=~models.Q(kind="user"), name="contact_kind_idx"
            ),
            models.Index(fields=["created_at"], name="contact_created_idx"),
            models.Index(
                fields=["last_interaction_at"],
                condition=models.Q(last_interaction_at__isnull=False),
                name="contact_last_interaction_idx",
            ),
            models.Index(
                fields=["connection"],
                condition=models.Q(connection__isnull=False),
                name="contact_connection_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.line_id

    def save(self, *args, **kwargs) -> None:
        self.kind = self.kind_for(self.line_id)
        super().save(*args, **kwargs)

    @classmethod
    def kind_for(cls, line_id: str) -> str:
        return cls.KIND_BY_PREFIX.get(line_id[:1], cls.Kind.USER)

    @property
    def is_anonymous(self) -> bool:
        return not self.external_id


class Segment(models.Model):
    """A saved rule tree over contacts; the format is documented in the README."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rules = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AttributeKey(models.Model):
    """The catalogue of attribute keys seen on contacts, with an inferred type, for the builder."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Boolean"
        DATE = "date", "Date"
        LIST = "list", "List"
        OBJECT = "object", "Object"

    key = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=8, choices=Type, default=Type.TEXT)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({self.type})"


class ImportJob(models.Model):
    """One CSV upload: its column mapping, progress counters and error report."""

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for column choices"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class ColumnType(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Boolean"
        DATE = "date", "Date"

    file = models.FileField(upload_to="imports/", blank=True)
    # Set instead of `file` by `manage.py import_contacts`, which reads the file where it is.
    source_path = models.CharField(max_length=1000, blank=True)
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=16, blank=True)
    delimiter = models.CharField(max_length=2, blank=True)
    header = models.JSONField(default=list, blank=True)
    # {"line_id": column, "display_name": column or "", "attributes": {column: type}}
    mapping = models.JSONField(default=dict, blank=True)
    replace_attributes = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status, default=Status.MAPPING)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error_report = models.FileField(upload_to="imports/errors/", blank=True)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk; a running job whose heartbeat stops is re-queued by a sweeper.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.original_name}"

    @property
    def path(self) -> str:
        return self.file.path if self.file else self.source_path

    @property
    def encoding_label(self) -> str:
        labels = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp932": "Shift_JIS"}
        return labels.get(self.encoding, self.encoding)

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(self.bytes_read * 100 / self.bytes_total))

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class CustomEvent(models.Model):
    """Something the brand's own systems say a contact did (`POST /api/v1/events`): shown on the
    contact's timeline, usable in segments ("did E within the last N days"), and handed to
    whoever listens (`audiences.custom_events.custom_event_recorded`: journeys)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="custom_events")
    name = models.CharField(max_length=100)
    properties = models.JSONField(default=dict, blank=True)
    # The sender's own id for the event: the same id twice is stored once.
    idempotency_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    occurred_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "name", "occurred_at"], name="customevent_contact_idx"),
            models.Index(fields=["name", "occurred_at"], name="customevent_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.contact_id})"

    @property
    def properties_text(self) -> str:
        return json.dumps(self.properties, ensure_ascii=False, separators=(",", ":"))


class FollowerBackfill(models.Model):
    """A run that pages through LINE's follower ids and creates or refreshes contacts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    connection = models.ForeignKey(
        "connections.Connection", on_delete=models.CASCADE, related_name="backfills"
    )
    status = models.CharField(max_length=12, choices=Status, default=Status.PENDING)
    pages = models.PositiveIntegerField(default=0)
    followers_seen = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    profiles_fetched = models.PositiveIntegerField(default=0)
    profile_errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Moved from connections; the table kept its name (docs/design.md §2).
        db_table = "connections_followerbackfill"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Backfill {self.pk} of {self.connection}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
