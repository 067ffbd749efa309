"""The database itself refuses UPDATE and DELETE on audit events (SQLite and PostgreSQL)."""

from django.db import migrations

TABLE = "residency_auditevent"
MESSAGE = "audit events are append-only"

SQLITE_UP = [
    f"CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS auditevent_no_update;", "DROP TRIGGER IF EXISTS auditevent_no_delete;"]

POSTGRES_UP = [
    f"""CREATE OR REPLACE FUNCTION auditevent_refuse_change() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END;
    $$ LANGUAGE plpgsql;""",
    f"CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION auditevent_refuse_change();",
    f"CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION auditevent_refuse_change();",
]
POSTGRES_DOWN = [
    f"DROP TRIGGER IF EXISTS auditevent_no_update ON {TABLE};",
    f"DROP TRIGGER IF EXISTS auditevent_no_delete ON {TABLE};",
    "DROP FUNCTION IF EXISTS auditevent_refuse_change();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"No append-only triggers for {schema_editor.connection.vendor}.")
        for sql in statements:
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("residency", "0002_seed_geos_and_catalog")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
