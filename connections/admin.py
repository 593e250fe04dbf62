from django.contrib import admin

from connections.models import Connection, WebhookEvent


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "bot_display_name", "basic_id", "is_sandbox", "verified_at"]
    # The token and secret stay out of the admin: the dashboard's own pages rotate them.
    exclude = ["channel_access_token", "channel_secret"]
    readonly_fields = ["masked_token", "masked_secret", "webhook_slug", "bot_user_id"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["webhook_event_id", "connection", "type", "status", "received_at"]
    list_filter = ["type", "status"]
