# The audit log, API tokens and user profiles moved to the kit app (docs/design.md §1). Their
# tables stay as they are: this only tells Django's state; kit 0001 takes them over.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("linecampaigns", "0003_user_timezone"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="auditentry",
                    name="actor",
                ),
                migrations.RemoveField(
                    model_name="userprofile",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="ApiToken",
                ),
                migrations.DeleteModel(
                    name="AuditEntry",
                ),
                migrations.DeleteModel(
                    name="UserProfile",
                ),
            ],
            database_operations=[],
        ),
    ]
