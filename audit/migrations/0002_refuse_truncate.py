"""PostgreSQL refuses TRUNCATE of the audit table too (SPEC §7): row triggers never see a
TRUNCATE, so a statement trigger does. SQLite has no TRUNCATE (its DELETE trigger covers it)."""

from django.db import migrations

TABLE = "audit_auditevent"

POSTGRES_UP = [
    f"CREATE TRIGGER auditevent_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION auditevent_refuse_change();",
]
POSTGRES_DOWN = [f"DROP TRIGGER IF EXISTS auditevent_no_truncate ON {TABLE};"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(_run(POSTGRES_UP), _run(POSTGRES_DOWN))]
