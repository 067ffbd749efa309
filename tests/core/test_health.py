"""Health and outages (SPEC §6): /healthz is liveness, /readyz checks the database, a request
that cannot reach the database answers 503 (JSON `api_error` with `retry-after` on /v1, a plain
page on the console), and any unknown /v1 path is the JSON 404 whatever the method."""

import contextlib
import json
import urllib.error
import urllib.request

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


def fetch(base, path, secret=None):
    """(status, headers, body) of a GET, whatever the status."""
    request = urllib.request.Request(base + path, headers={"X-Api-Key": secret} if secret else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.postgres_only
def test_a_postgresql_server_stopped_mid_way_is_a_503_and_answers_again_once_back(committed_db):
    """Not a port where nothing listens: gunicorn serving a real server over a kept-alive
    connection (CONN_MAX_AGE), that server shut down between requests (its connections cut),
    then started again. A copy of the test database on a throwaway server: about 5 seconds."""
    from tests.factories import make_org, primary_owner
    from tests.servers import database_env, gunicorn, throwaway_postgres

    owner = primary_owner(make_org(name="Outage"))
    secret = api_key_for(owner)
    me = "/v1/organizations/me"
    with throwaway_postgres() as server:
        server.copy_of(connection.settings_dict, "outage")
        env = {**database_env(), "DATABASE_URL": f"postgres://postgres@127.0.0.1:{server.port}/outage",
               "CONN_MAX_AGE": "600"}
        with gunicorn(env, workers=1) as (base, _log):
            assert fetch(base, me, secret)[0] == 200 and fetch(base, me, secret)[0] == 200
            server.stop()
            rest, ready, live = fetch(base, me, secret), fetch(base, "/readyz"), fetch(base, "/healthz")
            rest_again = fetch(base, me, secret)  # and on a fresh connection attempt, refused
            server.start()
            back = [fetch(base, me, secret) for _ in range(2)]
            ready_back = fetch(base, "/readyz")
    for status, headers, body in (rest, rest_again):
        assert status == 503 and headers["retry-after"] == "5", (status, body[:300])
        error = json.loads(body)["error"]
        assert error["type"] == "api_error" and "database" in error["message"]
    assert ready[0] == 503 and json.loads(ready[2])["database"] == "unreachable"
    assert live[0] == 200
    assert [status for status, _, _ in back] == [200, 200], [body[:300] for _, _, body in back]
    assert json.loads(back[0][2])["id"] == owner.organization_id
    assert ready_back[0] == 200


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
