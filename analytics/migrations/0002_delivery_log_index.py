"""An index on campaigns_delivery (campaign_id, id) for the delivery log's keyset pages.

The log lists one campaign's rows in id order, `id > after`, 50 at a time. The indexes the
campaigns app declares start with (campaign, status, ...) or (campaign, batch, ...), which
cannot give one campaign's rows in id order without sorting them all. Analytics does not own
the Delivery model, so the index is created here by SQL and kept out of Django's model state.
"""

from django.db import migrations

INDEX = "analytics_delivery_campaign_id_id"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("campaigns", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON campaigns_delivery (campaign_id, id)",
            f"DROP INDEX IF EXISTS {INDEX}",
        )
    ]
