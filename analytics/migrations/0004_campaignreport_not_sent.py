"""Kept reports follow campaigns 0005: recipients a cancel or an expiry left untried move from
`skipped` to `not_sent` in their status counts, skip reasons and counters, so the kept figures
stay current instead of being counted again the first time each report is read."""

from django.db import migrations

STOPPED = ("cancelled", "expired")


def reports_not_sent(apps, schema_editor) -> None:
    CampaignReport = apps.get_model("analytics", "CampaignReport")
    for report in CampaignReport.objects.iterator():
        if len(report.counters) != 4:
            continue
        moved = sum(s["count"] for s in report.skips if s["reason"] in STOPPED)
        attempted, sent, failed, skipped = report.counters
        report.counters = [attempted, sent, failed, skipped - moved, moved]
        if moved:
            report.skips = [s for s in report.skips if s["reason"] not in STOPPED]
            counts = report.status_counts
            counts["skipped"] = counts.get("skipped", 0) - moved
            if not counts["skipped"]:
                del counts["skipped"]
            counts["not_sent"] = moved
        report.save(update_fields=["counters", "skips", "status_counts"])


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_campaignreport_remove_utc_daily"),
        ("campaigns", "0005_delivery_not_sent"),
    ]

    operations = [
        migrations.RunPython(reports_not_sent, migrations.RunPython.noop),
    ]
