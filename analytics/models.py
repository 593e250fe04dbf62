from django.db import models


class CampaignReport(models.Model):
    """Figures counted once over the delivery rows of a finished campaign.

    A finished campaign's rows no longer change, so the grouped counts (failure breakdown,
    skip reasons, timeline) are computed once and read from here; the
    counters they were computed against are kept so a later change is noticed and the
    snapshot is recomputed (see selectors.campaign_report).
    """

    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="report"
    )
    computed_at = models.DateTimeField()
    # The campaign counters (attempted, sent, failed, skipped, not_sent) this snapshot matches.
    counters = models.JSONField(default=list)
    status_counts = models.JSONField(default=dict)
    failures = models.JSONField(default=list)
    skips = models.JSONField(default=list)
    bucket_seconds = models.PositiveIntegerField(default=1)
    timeline = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"report of campaign {self.campaign_id}"


class CampaignInsight(models.Model):
    """LINE's open and click statistics for a campaign's aggregation unit."""

    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="insight"
    )
    fetched_at = models.DateTimeField(null=True, blank=True)
    # None means LINE did not report the figure (under 20 users, hidden for privacy).
    delivered = models.PositiveIntegerField(null=True, blank=True)
    unique_impression = models.PositiveIntegerField(null=True, blank=True)
    unique_click = models.PositiveIntegerField(null=True, blank=True)
    url_clicks = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"LINE statistics of campaign {self.campaign_id}"


class InsightCall(models.Model):
    """One request to LINE's insight API: counted to stay within 60 an hour per channel."""

    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL
    )
    called_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["connection", "called_at"])]

    def __str__(self) -> str:
        return f"insight call {self.called_at:%Y-%m-%d %H:%M} ({self.connection_id})"
