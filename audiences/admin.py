from django.contrib import admin

from audiences.models import FollowerBackfill


@admin.register(FollowerBackfill)
class FollowerBackfillAdmin(admin.ModelAdmin):
    list_display = ["connection", "status", "followers_seen", "created_count", "created_at"]
