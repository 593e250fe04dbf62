from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Who did what, to what, and when. Written by `audit_record`; never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        db_table = "linecampaigns_auditentry"  # created before the kit was its own app

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.target_repr}"


class ApiToken(models.Model):
    """A bearer token for /api/v1/. Only a SHA-256 hash is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        db_table = "linecampaigns_apitoken"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class UserProfile(models.Model):
    """A user's own settings. `time_zone` is where pages show times and scheduling starts;
    blank until set (on first login, from the browser) or chosen on the profile page."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "linecampaigns_userprofile"

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'no time zone'})"
