"""PostgreSQL roles that make the audit table append-only for the application (SPEC §7).

Two roles: a **migration role** that owns the schema (runs `migrate`, and this module's
grants), and a **runtime role** the application connects as. The runtime role may read and
write every table as the application needs, but on the audit table only SELECT and INSERT,
and on the chain head no DELETE; it owns nothing, so it cannot `ALTER TABLE ... DISABLE
TRIGGER`, and it is no superuser, so it cannot `SET session_replication_role`. `TRUNCATE` is
granted on no table. (The owner cannot truncate the audit table either: a trigger refuses it.)
"""

from django.db import connection

from .models import AuditEvent, ChainHead


class RoleError(ValueError):
    """The runtime role is unsafe or unusable; the message says what to fix."""


def runtime_role_statements(db, role, owner, schema="public"):
    """The GRANT/REVOKE statements for `role` on the current tables (and, through default
    privileges, on tables `owner` creates later: re-run after each `migrate` anyway, so the
    audit table's limits hold whatever a migration did)."""
    q = db.ops.quote_name
    r, o, s = q(role), q(owner), q(schema)
    audit, head = q(AuditEvent._meta.db_table), q(ChainHead._meta.db_table)
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        # the audit log: append and read, nothing else, for the runtime role and for everyone
        f"REVOKE ALL ON {audit} FROM PUBLIC",
        f"REVOKE UPDATE, DELETE ON {audit} FROM {r}",
        f"REVOKE ALL ON {head} FROM PUBLIC",
        f"REVOKE DELETE ON {head} FROM {r}",
    ]


def check_runtime_role(db, role):
    """Refuse a runtime role that could undo the audit table's protection."""
    with db.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls, pg_has_role(%s, current_user, 'MEMBER') FROM pg_roles "
                       "WHERE rolname = %s", [role, role])
        row = cursor.fetchone()
        if row is None:
            raise RoleError(f"No PostgreSQL role {role!r}; create it first (CREATE ROLE {role} LOGIN PASSWORD ...).")
        superuser, _bypass, member_of_owner = row
        cursor.execute("SELECT current_user, tableowner FROM pg_tables WHERE tablename = %s",
                       [AuditEvent._meta.db_table])
        owner_row = cursor.fetchone()
    if owner_row is None:
        raise RoleError("The audit table does not exist yet: run migrate first, as the migration role.")
    current, table_owner = owner_row
    if role == table_owner:
        raise RoleError(f"{role!r} owns the audit table; the runtime role must own nothing (migrate as another role).")
    if superuser:
        raise RoleError(f"{role!r} is a superuser, which can switch triggers off; use an ordinary role.")
    if member_of_owner:
        raise RoleError(f"{role!r} is a member of {current!r} and could act as it; revoke that membership.")
    return current


def grant_runtime_role(role, db=connection):
    """Apply `runtime_role_statements` as the current (migration) role; returns the statements."""
    if db.vendor != "postgresql":
        raise RoleError("Database roles apply to PostgreSQL only.")
    owner = check_runtime_role(db, role)
    with db.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
        statements = runtime_role_statements(db, role, owner, schema)
        for sql in statements:
            cursor.execute(sql)
    return statements
