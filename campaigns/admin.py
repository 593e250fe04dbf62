"""Read-mostly admin for support: the engine's state is changed through the services, never by
editing rows here (counters are a cache of the delivery rows)."""

from django.contrib import admin

from campaigns.models import Campaign, Delivery, DeliveryBatch, FrequencyCap, MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "updated_at"]
    search_fields = ["name"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "send_mode",
        "recipients_total",
        "sent",
        "failed",
        "skipped",
        "not_sent",
    ]
    list_filter = ["status", "send_mode"]
    search_fields = ["name", "aggregation_unit"]
    readonly_fields = [
        "status",
        "send_mode",
        "retry_salt",
        "snapshot_at",
        "aggregation_unit",
        "recipients_total",
        "attempted",
        "sent",
        "failed",
        "skipped",
        "not_sent",
        "frequency_cap_applied",
        "launched_at",
        "started_at",
        "finished_at",
    ]


@admin.register(DeliveryBatch)
class DeliveryBatchAdmin(admin.ModelAdmin):
    list_display = ["campaign", "number", "mode", "status", "size", "attempts", "claimed_at"]
    list_filter = ["status", "mode"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["campaign", "line_id", "status", "reason", "http_status", "attempts"]
    list_filter = ["status", "reason"]
    search_fields = ["line_id", "request_id"]
    raw_id_fields = ["campaign", "contact"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ["max_messages", "days", "updated_by", "updated_at"]
