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
    from django.db import connection

    if connection.vendor == "sqlite":
        # Django empties tables with DELETE on SQLite, which the append-only trigger refuses.
        import importlib

        triggers = importlib.import_module("audit.migrations.0001_initial")
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS auditevent_no_delete")
            cursor.execute(f"DELETE FROM {triggers.TABLE}")
            for sql in triggers.SQLITE_TRIGGERS:
                cursor.execute(sql)
