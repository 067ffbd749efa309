import os

import pytest
from rest_framework.test import APIClient

from tests.factories import add_member, api_key_for, make_org, primary_owner

# live_server runs the app in a thread; sync Playwright in the test thread trips Django's
# async-safety check otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def org(db):
    """A usage-based Enterprise organization with its primary owner."""
    return make_org(plan="enterprise_usage", name="Acme")


@pytest.fixture
def owner(org):
    return primary_owner(org)


@pytest.fixture
def member_factory(db):
    return add_member


@pytest.fixture
def api():
    """api(secret=None) -> an APIClient sending `x-api-key` when a secret is given."""

    def make(secret=None):
        client = APIClient()
        if secret:
            client.credentials(HTTP_X_API_KEY=secret)
        return client

    return make


@pytest.fixture
def key_for(db):
    return api_key_for


@pytest.fixture
def console(client):
    """console(user) -> the Django test client signed in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


def restore_reference_data():
    """Re-create what the data migrations seed (built-in roles, geos, catalog): transactional
    tests empty every table between tests, data migrations included."""
    import importlib

    from django.apps import apps

    importlib.import_module("orgs.migrations.0002_builtin_roles").create_builtin_roles(apps, None)
    importlib.import_module("residency.migrations.0002_seed_geos_and_catalog").seed(apps, None)


@pytest.fixture
def committed_db(transactional_db):
    """A real, committing database (threads, other processes, live server) with reference data."""
    restore_reference_data()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """With `TEST_DATABASE_RUNTIME_ROLE` (scripts/test.sh, PostgreSQL): the test database is
    created and migrated as the login role (the schema owner), the runtime role is granted what
    `grant_runtime_role` grants, and every connection from then on runs `SET ROLE` to it, so
    the whole suite runs with the runtime role's privileges (SPEC §7). tests/db.py steps back
    to the owner for tampering and for emptying tables between committing tests."""
    from django.db import connection

    role = os.environ.get("TEST_DATABASE_RUNTIME_ROLE")
    if not role or connection.vendor != "postgresql":
        yield
        return
    from audit.roles import grant_runtime_role

    with django_db_blocker.unblock():
        grant_runtime_role(role)
        connection.close()
    connection.settings_dict["OPTIONS"]["assume_role"] = role
    yield
    # the owner drops the test database
    connection.settings_dict["OPTIONS"].pop("assume_role", None)
    with django_db_blocker.unblock():
        connection.close()


@pytest.fixture(scope="session", autouse=True)
def _flush_as_owner():
    """Django empties tables between committing tests (TRUNCATE on PostgreSQL, DELETE on
    SQLite), which the audit table's triggers refuse, and the runtime role may not: the flush
    runs in tests.db.privileged (as the owner, the triggers off)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from tests.db import privileged

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with privileged(self.connection):
            original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    BaseDatabaseOperations.execute_sql_flush = original
