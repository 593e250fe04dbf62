"""Kept reports no longer hold per-day totals: those were UTC days, and the overview now shows
the viewer's days, derived from the kept timeline (selectors.accepted_per_day)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_delivery_log_index"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="campaignreport",
            name="daily",
        ),
    ]
