"""Database helpers for tests: the intruder's `tamper`, and the privileged steps the harness
itself needs when the suite runs as the runtime role (scripts/test.sh, SPEC §7).

On PostgreSQL the suite may log in as the schema owner and `SET ROLE` to the runtime role
(`TEST_DATABASE_RUNTIME_ROLE`, see tests/conftest.py): every query of the application is then
checked against the runtime role's privileges, and only these helpers step back to the owner
(`RESET ROLE`), inside the test's own transaction, to do what an intruder with the owner's
credentials could do.
"""

import importlib
from contextlib import contextmanager

from django.db import connection, transaction

TABLE = "audit_auditevent"


def _sqlite_triggers():
    return importlib.import_module("audit.migrations.0001_initial").SQLITE_TRIGGERS


def runtime_role(db=connection):
    return db.settings_dict["OPTIONS"].get("assume_role")


@contextmanager
def privileged(db=connection):
    """A cursor with the audit table's append-only triggers off: on PostgreSQL as the schema
    owner (its triggers disabled), on SQLite with the triggers dropped. Everything is put back
    on the way out; on an error, the savepoint rolls it back instead."""
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        role = runtime_role(db) if db.vendor == "postgresql" else None
        if db.vendor == "postgresql":
            if role:
                cursor.execute("RESET ROLE")
            # fire deferred foreign-key checks first: ALTER TABLE refuses pending trigger events
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS auditevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS auditevent_no_delete")
        yield cursor
        if db.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            if role:
                cursor.execute(db.ops.compose_sql("SET ROLE %s", [role]))
        else:
            for statement in _sqlite_triggers():
                cursor.execute(statement)


@contextmanager
def as_schema_owner(db=connection):
    """Run as the schema owner (`RESET ROLE`), as `manage.py migrate` does in production, for a
    test that migrates backwards and forwards; back to the runtime role on the way out."""
    role = runtime_role(db) if db.vendor == "postgresql" else None
    if role:
        with db.cursor() as cursor:
            cursor.execute("RESET ROLE")
    try:
        yield
    finally:
        if role:
            with db.cursor() as cursor:
                cursor.execute(db.ops.compose_sql("SET ROLE %s", [role]))


def tamper(*statements):
    """Write to the audit table as an intruder with database access would. Each statement is
    SQL text or (SQL, params)."""
    with privileged() as cursor:
        for statement in statements:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            cursor.execute(sql, params)


def ids(org):
    """{seq: id} of the organization's audit events."""
    from audit.models import AuditEvent

    return dict(AuditEvent.objects.filter(organization=org).values_list("seq", "id"))
