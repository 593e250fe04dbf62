"""PostgreSQL only: a GIN index so attribute equality (`attributes @> {...}`) and key tests
(`attributes ? key`) in segment counts use an index. SQLite has no equivalent; it scans."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS audiences_contact_attributes_gin "
    "ON audiences_contact USING gin (attributes)"
)
DROP = "DROP INDEX IF EXISTS audiences_contact_attributes_gin"


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audiences", "0002_attributekey_contact_merged_line_ids_importjob")]

    operations = [migrations.RunPython(forwards, backwards)]
