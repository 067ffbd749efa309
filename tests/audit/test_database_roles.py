"""PostgreSQL defence in depth (SPEC §7): TRUNCATE of the audit table is refused by a trigger,
and the runtime role (`grant_runtime_role`) can read and append the audit log but cannot
UPDATE, DELETE, TRUNCATE it, switch its triggers off, or act as the owner.

scripts/test.sh runs the PostgreSQL pass as that runtime role (TEST_DATABASE_RUNTIME_ROLE):
these tests then also log in as it directly. On a development server reached as a superuser,
a throwaway runtime role is created inside the test's transaction instead.
"""

import os
import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.roles import grant_runtime_role
from tests.db import TABLE, privileged, runtime_role

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

REFUSED = [
    ("UPDATE", f"UPDATE {TABLE} SET actor_label = 'x'"),
    ("DELETE", f"DELETE FROM {TABLE}"),
    ("TRUNCATE", f"TRUNCATE {TABLE}"),
    ("TRUNCATE CASCADE", "TRUNCATE orgs_organization CASCADE"),
    ("DISABLE TRIGGER", f"ALTER TABLE {TABLE} DISABLE TRIGGER USER"),
    ("DISABLE TRIGGER ALL", f"ALTER TABLE {TABLE} DISABLE TRIGGER ALL"),
    ("DROP TRIGGER", f"DROP TRIGGER auditevent_no_update ON {TABLE}"),
    ("session_replication_role", "SET session_replication_role = replica"),
]


def refused(cursor, sql):
    """The database error `sql` raises, inside a savepoint so the test can go on."""
    try:
        with transaction.atomic():
            cursor.execute(sql)
    except DatabaseError as exc:
        return str(exc)
    return None


@pytest.fixture
def as_runtime_role(chain_org):
    """A cursor whose statements run with the runtime role's privileges."""
    role = runtime_role()
    with connection.cursor() as cursor:
        if role is None:  # a superuser on a development server: a throwaway role in this transaction
            role = f"audit_runtime_{uuid.uuid4().hex[:8]}"
            cursor.execute(f"CREATE ROLE {role} NOLOGIN")
            grant_runtime_role(role)
            cursor.execute(f"SET ROLE {role}")
        yield cursor, role
        if runtime_role() is None:
            cursor.execute("RESET ROLE")


@pytest.fixture
def chain_org(org):
    return org


@pytest.mark.parametrize("what, sql", REFUSED, ids=[w for w, _ in REFUSED])
def test_the_runtime_role_is_refused(as_runtime_role, what, sql):
    cursor, role = as_runtime_role
    cursor.execute("SELECT current_user")
    assert cursor.fetchone()[0] == role
    error = refused(cursor, sql)
    assert error is not None, f"{what} was allowed"
    assert "permission denied" in error or "must be owner" in error, error


def test_the_runtime_role_reads_and_appends(as_runtime_role, org):
    cursor, _ = as_runtime_role
    cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE organization_id = %s", [org.pk])
    assert cursor.fetchone()[0] >= 2
    cursor.execute(f"SELECT has_table_privilege(current_user, '{TABLE}', 'INSERT'), "
                   f"has_table_privilege(current_user, '{TABLE}', 'UPDATE'), "
                   f"has_table_privilege(current_user, '{TABLE}', 'DELETE'), "
                   f"has_table_privilege(current_user, '{TABLE}', 'TRUNCATE'), "
                   "has_table_privilege(current_user, 'audit_chainhead', 'UPDATE'), "
                   "has_table_privilege(current_user, 'audit_chainhead', 'DELETE')")
    assert cursor.fetchone() == (True, False, False, False, True, False)


def test_a_login_as_the_runtime_role_cannot_become_the_owner(org):
    """The real thing, as scripts/test.sh sets it up: a fresh login as the runtime role."""
    role = runtime_role() or os.environ.get("TEST_DATABASE_RUNTIME_ROLE")
    settings = connection.settings_dict
    if role is None:
        # the development server's superuser: the in-transaction role above covers the grants
        assert connection.get_database_version() >= (15,)
        return
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], dbname=settings["NAME"], user=role,
                         password=settings["PASSWORD"] or None, autocommit=True) as conn:
        for statement in (f"SET ROLE {settings['USER']}", f"ALTER TABLE {TABLE} DISABLE TRIGGER USER",
                          f"TRUNCATE {TABLE}", f"DELETE FROM {TABLE}", "SET session_replication_role = replica"):
            with pytest.raises(psycopg.Error) as exc:
                conn.execute(statement)
            assert "permission denied" in str(exc.value) or "must be owner" in str(exc.value)
        assert conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] >= 0  # reading is allowed


def test_truncate_is_refused_even_for_the_owner(org):
    with privileged() as cursor:  # the owner, with the triggers on again for this one statement
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
        error = refused(cursor, f"TRUNCATE {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
    assert error is not None and "append-only" in error


def test_an_unsafe_runtime_role_is_refused(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        current = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="No PostgreSQL role 'nobody_here'"):
        call_command("grant_runtime_role", "nobody_here")
    if runtime_role():
        with privileged() as cursor:  # as the owner: the owner itself is no runtime role
            cursor.execute("SELECT current_user")
            owner = cursor.fetchone()[0]
        with pytest.raises(CommandError, match="owns the audit table"):
            call_command("grant_runtime_role", owner)
    else:
        with pytest.raises(CommandError, match="owns the audit table|is a superuser"):
            call_command("grant_runtime_role", current)
