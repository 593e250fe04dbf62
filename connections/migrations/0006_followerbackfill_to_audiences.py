from django.db import migrations


class Migration(migrations.Migration):
    """FollowerBackfill moved to audiences (audiences 0009): the table stays where it is."""

    dependencies = [
        ("connections", "0005_webhook_event_sanitized"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="FollowerBackfill")],
            database_operations=[],
        ),
    ]
