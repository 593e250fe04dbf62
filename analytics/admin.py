from django.contrib import admin

from analytics.models import CampaignInsight, CampaignReport, InsightCall


@admin.register(CampaignReport)
class CampaignReportAdmin(admin.ModelAdmin):
    list_display = ("campaign", "computed_at", "bucket_seconds")
    readonly_fields = [f.name for f in CampaignReport._meta.fields]


@admin.register(CampaignInsight)
class CampaignInsightAdmin(admin.ModelAdmin):
    list_display = ("campaign", "fetched_at", "unique_impression", "unique_click", "last_error")
    readonly_fields = [f.name for f in CampaignInsight._meta.fields]


@admin.register(InsightCall)
class InsightCallAdmin(admin.ModelAdmin):
    list_display = ("connection", "campaign", "called_at", "ok")
    list_filter = ("ok",)
