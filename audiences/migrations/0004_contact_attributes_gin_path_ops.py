"""PostgreSQL only: swap the GIN index on `attributes` to jsonb_path_ops. Segment equality is
written as containment (`attributes @> '{"plan": "gold"}'`), which jsonb_path_ops answers
from one posting list per key/value pair, where the default opclass intersects a list for
the key (present on nearly every contact) with one for the value."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS audiences_contact_attributes_path_gin "
    "ON audiences_contact USING gin (attributes jsonb_path_ops)"
)
DROP_OLD = "DROP INDEX IF EXISTS audiences_contact_attributes_gin"
CREATE_OLD = (
    "CREATE INDEX IF NOT EXISTS audiences_contact_attributes_gin "
    "ON audiences_contact USING gin (attributes)"
)
DROP = "DROP INDEX IF EXISTS audiences_contact_attributes_path_gin"


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_OLD)
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(CREATE_OLD)


class Migration(migrations.Migration):
    dependencies = [("audiences", "0003_contact_attributes_gin")]

    operations = [migrations.RunPython(forwards, backwards)]
