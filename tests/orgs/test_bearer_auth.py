"""`Authorization: Bearer <key>` works wherever `x-api-key` does (SPEC §9): the official SDK sends
the key that way. One reading of the key (`orgs.auth.raw_api_key`) serves DRF and the decision's
lean path, which still answers in one SQL statement."""

import pytest

from audit.models import AuditEvent
from orgs.auth import raw_api_key
from orgs.models import ApiKey, hash_api_key
from residency import services as residency_services
from residency.api.decisions import DecisionApi
from tests.factories import actor_for, api_key_for

ME = "/v1/organizations/me"
DECISIONS = "/v1/residency/decisions"


@pytest.mark.parametrize("meta,key", [
    ({}, None),
    ({"HTTP_X_API_KEY": "k1"}, "k1"),
    ({"HTTP_AUTHORIZATION": "Bearer k2"}, "k2"),
    ({"HTTP_AUTHORIZATION": "bearer k2"}, "k2"),
    ({"HTTP_AUTHORIZATION": "BEARER  k2 "}, "k2"),
    ({"HTTP_AUTHORIZATION": "Bearer "}, ""),
    ({"HTTP_AUTHORIZATION": "Bearer"}, ""),
    ({"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, None),  # another scheme is not a key
    ({"HTTP_X_API_KEY": "k1", "HTTP_AUTHORIZATION": "Bearer k2"}, "k1"),  # x-api-key first
    ({"HTTP_X_API_KEY": "", "HTTP_AUTHORIZATION": "Bearer k2"}, ""),
])
def test_the_one_reading_of_the_key(meta, key):
    assert raw_api_key(meta) == key


def bearer(api, secret):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_bearer_reads_and_writes_like_x_api_key(org, owner, api):
    secret = api_key_for(owner)
    client = bearer(api, secret)
    assert client.get(ME).json()["id"] == org.pk
    created = client.post("/v1/organizations/workspaces", {"name": "Via bearer"}, format="json")
    assert created.status_code == 200
    key = ApiKey.objects.get(key_hash=hash_api_key(secret))
    assert key.last_used_at is not None
    event = AuditEvent.objects.filter(organization=org, action="workspace.created").latest("seq")
    assert (event.actor_type, event.actor_id) == ("api_key", key.pk)


@pytest.mark.parametrize("header", ["Bearer rc-api-not-a-key", "Bearer ", "Bearer " + "k" * 300])
def test_a_bad_bearer_key_is_a_401_naming_both_headers(api, db, header):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=header)
    for response in (client.get(ME), client.post(DECISIONS, {"workspace_id": "w", "model": "m"}, format="json")):
        body = response.json()
        assert (response.status_code, body["error"]["type"]) == (401, "authentication_error")
        assert "`x-api-key`" in body["error"]["message"] and "Bearer" in body["error"]["message"]
        assert response["WWW-Authenticate"] == "x-api-key"


def test_missing_credentials_name_both_headers(api, db):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    body = client.get(ME).json()
    assert body["error"]["message"] == ("Missing credentials: send your API key in the `x-api-key` header or as "
                                        "`Authorization: Bearer <key>`.")


# --- decisions: the lean path reads Bearer too, in one statement ------------------------------


@pytest.fixture
def ws(org, owner):
    return residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod",
                                               data_residency={"allowed_inference_geos": ["us"],
                                                               "default_inference_geo": "us"})


def test_a_bearer_decision_is_one_statement(owner, api, ws, django_assert_num_queries):
    client = bearer(api, api_key_for(owner))
    client.post(DECISIONS, {"workspace_id": "x", "model": "x"}, format="json")  # records last_used_at
    with django_assert_num_queries(1):
        response = client.post(DECISIONS, {"workspace_id": ws.pk, "model": "claude-opus-4-6"}, format="json")
    assert response.json() == {"inference_geo": "us", "routing_geo": "us", "price_multiplier": "1.1",
                               "priority_burndown_multiplier": "1.1"}
    batch = client.post(f"{DECISIONS}/batch", {"requests": [
        {"custom_id": "a", "params": {"workspace_id": ws.pk, "model": "claude-opus-4-6", "inference_geo": "global"}}]},
        format="json").json()
    error = batch["results"][0]["result"]["error"]
    assert error["type"] == "invalid_request_error" and error["details"] is None


@pytest.mark.parametrize("body,status", [
    ('{"workspace_id": "WS", "model": "claude-opus-4-6"}', 200),
    ('{"workspace_id": "WS", "model": "claude-opus-4-6", "inference_geo": "global"}', 400),
    ('{"workspace_id": "wrkspc_nope", "model": "claude-opus-4-6"}', 404),
    ('{nope', 400),
])
@pytest.mark.parametrize("kind", ["valid", "bad"])
def test_the_lean_path_answers_bearer_as_the_drf_path_does(rf, owner, ws, body, status, kind):
    secret = api_key_for(owner) if kind == "valid" else "rc-api-not-a-key"
    answers = []
    for view in (DecisionApi.as_view(), DecisionApi.as_view(lean=False)):
        request = rf.post(DECISIONS, data=body.replace("WS", ws.pk).encode(), content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {secret}")
        request.request_id = "req_same"
        response = view(request)
        if hasattr(response, "render"):
            response.render()
        answers.append((response.status_code, dict(response.items()), response.content))
    lean, drf = answers
    assert lean == drf
    assert lean[0] == (401 if kind == "bad" else status)
