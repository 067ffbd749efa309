"""Health and outages (SPEC §6): /healthz is liveness, /readyz checks the database, a request
that cannot reach the database answers 503 (JSON `api_error` with `retry-after` on /v1, a plain
page on the console), and any unknown /v1 path is the JSON 404 whatever the method."""

import contextlib

import pytest
from django.db import connection
from django.test import Client

from tests.factories import api_key_for

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def database_unreachable():
    """Point this process's connection at a port where no database listens (PostgreSQL), or at
    a file that cannot be opened (SQLite), for the requests inside the block."""
    settings = connection.settings_dict
    saved = dict(settings)
    connection.close()
    if connection.vendor == "postgresql":
        from tests.servers import free_port

        settings["PORT"] = str(free_port())
        settings["HOST"] = "127.0.0.1"
    else:
        settings["NAME"] = "/nonexistent-dir/unreachable.sqlite3"
    try:
        yield
    finally:
        connection.close()
        settings.clear()
        settings.update(saved)


def _assert_outage_answers(secret, session_client):
    api = Client(raise_request_exception=False)
    with database_unreachable():
        ready = Client().get("/readyz")
        live = Client().get("/healthz")
        rest = api.get("/v1/organizations/me", HTTP_X_API_KEY=secret)
        console = session_client.get("/members/")
    assert live.status_code == 200
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert rest.status_code == 503 and rest["retry-after"] == "5"
    body = rest.json()
    assert body["type"] == "error" and body["error"]["type"] == "api_error" and body["request_id"]
    assert "database" in body["error"]["message"]
    assert console.status_code == 503 and "Temporarily unavailable" in console.content.decode()
    assert console["retry-after"] == "5" and console["Content-Security-Policy"]
    assert "Content-Security-Policy" not in rest  # JSON answers carry no page policy
    # and once the database is back, everything answers again
    assert Client().get("/readyz").status_code == 200
    assert api.get("/v1/organizations/me", HTTP_X_API_KEY=secret).status_code == 200


@pytest.mark.postgres_only
def test_a_postgresql_outage_is_a_503_and_readyz_says_so(committed_db):
    from tests.factories import make_org, primary_owner

    assert connection.vendor == "postgresql"
    owner = primary_owner(make_org(name="Outage"))
    session = Client(raise_request_exception=False)
    session.force_login(owner.user)
    _assert_outage_answers(api_key_for(owner), session)


def test_a_database_outage_is_a_503_on_either_database(committed_db):
    from tests.factories import make_org, primary_owner

    owner = primary_owner(make_org(name="Outage"))
    session = Client(raise_request_exception=False)
    session.force_login(owner.user)
    _assert_outage_answers(api_key_for(owner), session)


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_any_unknown_v1_path_is_the_json_404_whatever_the_method(owner, method):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)  # a session cookie and no CSRF token: still the JSON 404
    response = client.generic(method.upper(), "/v1/organizations/no_such_thing", data="{}",
                              content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert "/v1/docs" in response.json()["error"]["message"]
    anonymous = Client(enforce_csrf_checks=True).generic(method.upper(), "/v1/nothing/here")
    assert anonymous.status_code == 404 and anonymous.json()["error"]["type"] == "not_found_error"
