"""POST /v1/residency/decisions and /decisions/batch (SPEC §2 rules, §3 contract)."""

import pytest
from django.utils import timezone

from orgs import services
from orgs.models import ApiKey
from residency import services as residency_services
from residency.api.serializers import MAX_BATCH
from residency.models import CatalogModel
from tests.factories import actor_for, make_org, primary_owner

URL = "/v1/residency/decisions"
BATCH_URL = "/v1/residency/decisions/batch"


@pytest.fixture
def workspaces(org, owner):
    actor = actor_for(owner.user)

    def make(name, **residency):
        return residency_services.workspace_create(actor=actor, organization=org, name=name, data_residency=residency)

    archived = make("Old")
    residency_services.workspace_archive(actor=actor, workspace=archived)
    return {
        "open": make("Open"),
        "us_only": make("US", allowed_inference_geos=["us"], default_inference_geo="us"),
        "both_us_default": make("Both", allowed_inference_geos=["global", "us"], default_inference_geo="us"),
        "global_only": make("Global", allowed_inference_geos=["global"], default_inference_geo="global"),
        "archived": archived,
    }


@pytest.fixture
def owner_api(owner, api, key_for):
    client = api(key_for(owner))
    client.post(URL, {"workspace_id": "x", "model": "x"}, format="json")  # warm up last_used_at
    return client


def decision(client, **body):
    return client.post(URL, body, format="json")


def error_of(response):
    body = response.json()
    assert body["type"] == "error" and body["request_id"] == response["request-id"]
    return response.status_code, body["error"]["type"], body["error"]["message"]


# --- the rules end to end ------------------------------------------------------------------

@pytest.mark.parametrize(("ws", "model", "geo", "endpoint", "expected"), [
    ("open", "claude-opus-4-6", "us", None, ("us", "us", "1.1", "1.1")),
    ("open", "claude-opus-4-6", None, None, ("global", "global", "1", "1")),
    ("open", "claude-sonnet-4-6", "global", "batch", ("global", "global", "1", "1")),
    ("us_only", "claude-sonnet-4-6", None, None, ("us", "us", "1.1", "1.1")),
    ("both_us_default", "claude-opus-4-6", "global", None, ("global", "global", "1", "1")),
    ("both_us_default", "claude-opus-4-6", None, "openai_compat", ("us", "us", "1.1", "1.1")),
    ("us_only", "claude-haiku-4-5", None, None, ("not_available", "us", "1", "1")),
    ("open", "claude-opus-4-1", None, None, ("not_available", "global", "1", "1")),
])
def test_decisions(owner_api, workspaces, ws, model, geo, endpoint, expected):
    body = {"workspace_id": workspaces[ws].id, "model": model}
    if geo:
        body["inference_geo"] = geo
    if endpoint:
        body["endpoint"] = endpoint
    response = decision(owner_api, **body)
    assert response.status_code == 200, response.json()
    assert response.json() == dict(zip(
        ("inference_geo", "routing_geo", "price_multiplier", "priority_burndown_multiplier"), expected, strict=True))


@pytest.mark.parametrize(("ws", "body", "status", "error_type", "words"), [
    ("open", {"model": "claude-opus-9"}, 404, "not_found_error",
     "Unknown model 'claude-opus-9': use a model id from the model catalog, listed in the API reference at "
     "/v1/docs#models."),
    ("archived", {"model": "claude-opus-4-6"}, 403, "permission_error", "archived"),
    ("archived", {"model": "claude-opus-9"}, 404, "not_found_error", "Unknown model"),
    ("open", {"model": "claude-opus-4-6", "inference_geo": "us", "endpoint": "openai_compat"}, 400,
     "invalid_request_error", "OpenAI SDK compatibility"),
    ("open", {"model": "claude-opus-4-6", "inference_geo": "eu"}, 400, "invalid_request_error", '"global", "us"'),
    ("open", {"model": "claude-sonnet-4-5", "inference_geo": "us"}, 400, "invalid_request_error",
     "claude-sonnet-4-5 does not support inference_geo"),
    ("us_only", {"model": "claude-opus-4-6", "inference_geo": "global"}, 400, "invalid_request_error",
     'allowed geos: "us"'),
    ("global_only", {"model": "claude-opus-4-6", "inference_geo": "us"}, 400, "invalid_request_error",
     'allowed geos: "global"'),
    ("us_only", {"model": "claude-haiku-4-5", "inference_geo": "global"}, 400, "invalid_request_error",
     "does not support"),
    # malformed bodies
    ("open", {}, 400, "invalid_request_error", "model: required"),
    ("open", {"model": 5}, 400, "invalid_request_error", "model: must be a non-empty string"),
    ("open", {"model": "claude-opus-4-6", "endpoint": "chat"}, 400, "invalid_request_error", "endpoint: must be one of"),
    ("open", {"model": "claude-opus-4-6", "inference_geo": 1}, 400, "invalid_request_error", "inference_geo: must be"),
    ("open", {"model": "claude-opus-4-6", "inference-geo": "us"}, 400, "invalid_request_error",
     "inference-geo: unknown field"),
    ("open", {"model": "claude-opus-4-6", "surface": "web"}, 400, "invalid_request_error", "surface: must be"),
])
def test_decision_errors(owner_api, workspaces, ws, body, status, error_type, words):
    response = decision(owner_api, workspace_id=workspaces[ws].id, **body)
    got = error_of(response)
    assert got[:2] == (status, error_type)
    assert words in got[2]


def test_missing_workspace_id_and_non_object_body(owner_api, db):
    assert error_of(decision(owner_api, model="claude-opus-4-6"))[:2] == (400, "invalid_request_error")
    response = owner_api.post(URL, [1, 2], format="json")
    assert error_of(response)[0] == 400
    response = owner_api.post(URL, "{nope", content_type="application/json")
    assert error_of(response)[0] == 400


def test_a_default_flip_is_seen_by_the_next_decision(owner, owner_api, workspaces):
    ws = workspaces["open"]
    assert decision(owner_api, workspace_id=ws.id, model="claude-opus-4-6").json()["routing_geo"] == "global"
    residency_services.workspace_update(actor=actor_for(owner.user), workspace=ws,
                              data_residency={"default_inference_geo": "us"})
    assert decision(owner_api, workspace_id=ws.id, model="claude-opus-4-6").json()["routing_geo"] == "us"


# --- apps surface --------------------------------------------------------------------------

def apps(client, org_id, model="claude-opus-4-6"):
    return client.post(URL, {"organization_id": org_id, "surface": "apps", "model": model}, format="json")


def test_apps_surface_follows_us_only(org, owner, owner_api):
    assert apps(owner_api, org.id).json() == {"inference_geo": "global", "routing_geo": "global",
                                              "price_multiplier": "1", "priority_burndown_multiplier": "1"}
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    assert apps(owner_api, org.id).json() == {"inference_geo": "us", "routing_geo": "us",
                                              "price_multiplier": "1.1", "priority_burndown_multiplier": "1.1"}
    assert apps(owner_api, org.id, "claude-haiku-4-5").json() == {  # an older model: as its usage row will say
        "inference_geo": "not_available", "routing_geo": "us", "price_multiplier": "1",
        "priority_burndown_multiplier": "1"}
    assert error_of(apps(owner_api, org.id, "claude-nope"))[:2] == (404, "not_found_error")
    # the message names the model asked for, and where the valid ids are
    assert "Unknown model 'claude-nope'" in error_of(apps(owner_api, org.id, "claude-nope"))[2]
    assert "/v1/docs#models" in error_of(apps(owner_api, org.id, "claude-nope"))[2]


@pytest.mark.parametrize("lock", ["legacy_opt_out", "contract"])
def test_apps_surface_locked_org_runs_in_us_without_uplift(db, api, key_for, lock):
    locked = make_org(lock_reason=lock, legacy_opt_out=lock == "legacy_opt_out")
    client = api(key_for(primary_owner(locked)))
    assert apps(client, locked.id).json() == {"inference_geo": "us", "routing_geo": "us",
                                              "price_multiplier": "1", "priority_burndown_multiplier": "1"}


def test_apps_surface_for_another_org_is_404(org, owner_api, db):
    other = make_org()
    assert error_of(apps(owner_api, other.id))[:2] == (404, "not_found_error")
    assert error_of(apps(owner_api, "org_missing"))[:2] == (404, "not_found_error")


@pytest.mark.parametrize("body", [
    {"organization_id": "x", "surface": "apps", "model": "claude-opus-4-6", "workspace_id": "w"},
    {"organization_id": "x", "surface": "apps", "model": "claude-opus-4-6", "inference_geo": "us"},
    {"surface": "apps", "model": "claude-opus-4-6"},
])
def test_apps_surface_bad_bodies(owner_api, body):
    assert error_of(owner_api.post(URL, body, format="json"))[:2] == (400, "invalid_request_error")


# --- role and tenant matrix -----------------------------------------------------------------

ROLES = ["primary_owner", "owner", "admin", "user", "privacy_manage", "privacy_view", "privacy_none", "auditor"]


@pytest.mark.parametrize("role", ROLES)
def test_any_member_key_of_the_org_may_ask(org, member_factory, api, key_for, workspaces, role):
    client = api(key_for(member_factory(org, role)))
    response = decision(client, workspace_id=workspaces["us_only"].id, model="claude-opus-4-6")
    assert response.status_code == 200
    assert apps(client, org.id).status_code == 200
    batch = client.post(BATCH_URL, {"requests": [
        {"custom_id": "a", "params": {"workspace_id": workspaces["us_only"].id, "model": "claude-opus-4-6"}}]},
        format="json")
    assert batch.json()["results"][0]["result"]["type"] == "succeeded"


def test_other_org_member_gets_404_for_our_workspace(workspaces, api, key_for, db):
    stranger = api(key_for(primary_owner(make_org(name="Other"))))
    for ws in ("open", "archived"):
        response = decision(stranger, workspace_id=workspaces[ws].id, model="claude-opus-4-6")
        assert error_of(response)[:2] == (404, "not_found_error")
    batch = stranger.post(BATCH_URL, {"requests": [
        {"custom_id": "a", "params": {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}}]},
        format="json")
    assert batch.json()["results"][0]["result"] == {
        "type": "errored", "error": {"type": "not_found_error", "message": "Unknown workspace: check workspace_id.",
                                      "details": None}}


def test_anonymous_and_revoked_keys_are_401(owner, api, key_for, workspaces):
    body = {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}
    assert api().post(URL, body, format="json").status_code == 401
    assert api().post(BATCH_URL, {"requests": []}, format="json").status_code == 401
    secret = key_for(owner)
    key = ApiKey.objects.get(membership=owner, revoked_at__isnull=True, name="test key")
    services.api_key_revoke(actor=actor_for(owner.user), api_key=key)
    response = api(secret).post(URL, body, format="json")
    assert error_of(response)[:2] == (401, "authentication_error")


def test_console_session_member_may_ask(owner, workspaces, client):
    client.force_login(owner.user)
    response = client.post(URL, {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"},
                           content_type="application/json")
    assert response.status_code == 200
    other = make_org(name="Elsewhere")
    response = client.post(URL, {"organization_id": other.id, "surface": "apps", "model": "claude-opus-4-6"},
                           content_type="application/json")
    assert response.status_code == 404


# --- query counts ---------------------------------------------------------------------------

def test_single_decision_is_one_query_including_key_authentication(
        owner_api, workspaces, django_assert_num_queries):
    for ws in ("open", "us_only", "archived"):
        with django_assert_num_queries(1):
            decision(owner_api, workspace_id=workspaces[ws].id, model="claude-opus-4-6", inference_geo="us")
    with django_assert_num_queries(1):
        decision(owner_api, workspace_id="wrkspc_missing", model="claude-opus-9")


def test_apps_decision_is_one_query(org, owner_api, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert apps(owner_api, org.id).status_code == 200


def test_console_session_decision_query_count(owner, workspaces, client, django_assert_num_queries):
    client.force_login(owner.user)
    body = {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}
    client.post(URL, body, content_type="application/json")
    with django_assert_num_queries(4):  # session, user, memberships, decision state
        assert client.post(URL, body, content_type="application/json").status_code == 200


@pytest.mark.postgres_only
def test_postgresql_prepares_the_decision_statement_once_per_connection(org, owner_api, workspaces):
    from django.db import connection

    for _ in range(3):
        assert decision(owner_api, workspace_id=workspaces["open"].id, model="claude-opus-4-6").status_code == 200
    assert apps(owner_api, org.id).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%orgs_apikey%"])
        assert cursor.fetchone()[0] == 1


def test_key_last_used_is_touched_at_most_once_a_minute(owner, api, key_for, workspaces, django_assert_num_queries):
    client = api(key_for(owner))
    body = {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}
    with django_assert_num_queries(2):  # first use records last_used_at
        client.post(URL, body, format="json")
    with django_assert_num_queries(1):
        client.post(URL, body, format="json")
    ApiKey.objects.filter(membership=owner).update(last_used_at=timezone.now() - timezone.timedelta(minutes=2))
    with django_assert_num_queries(2):
        client.post(URL, body, format="json")
    assert ApiKey.objects.get(membership=owner, name="test key").last_used_at > timezone.now() - timezone.timedelta(
        seconds=5)


def batch_body(workspaces, n):
    kinds = ["open", "us_only", "both_us_default", "global_only", "archived"]
    models = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-unknown"]
    return {"requests": [
        {"custom_id": f"r{i}", "params": {"workspace_id": workspaces[kinds[i % 5]].id, "model": models[i % 4],
                                          **({"inference_geo": "us"} if i % 3 == 0 else {})}}
        for i in range(n)
    ]}


def test_batch_query_count_is_constant(owner_api, workspaces, django_assert_num_queries):
    for n in (1, 60):
        with django_assert_num_queries(4):  # key, workspaces, models, geos
            response = owner_api.post(BATCH_URL, batch_body(workspaces, n), format="json")
        assert len(response.json()["results"]) == n


# --- batch ----------------------------------------------------------------------------------

def test_batch_results_in_request_order_with_per_item_errors(owner_api, workspaces):
    requests = [
        {"custom_id": "z-first", "params": {"workspace_id": workspaces["us_only"].id, "model": "claude-opus-4-6"}},
        {"custom_id": "a-second", "params": {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6",
                                             "inference_geo": "us"}},
        {"custom_id": "bad-geo", "params": {"workspace_id": workspaces["us_only"].id, "model": "claude-opus-4-6",
                                            "inference_geo": "global"}},
        {"custom_id": "archived", "params": {"workspace_id": workspaces["archived"].id, "model": "claude-opus-4-6"}},
        {"custom_id": "no-model", "params": {"workspace_id": workspaces["open"].id, "model": "nope"}},
        {"custom_id": "old", "params": {"workspace_id": workspaces["us_only"].id, "model": "claude-haiku-4-5"}},
        {"custom_id": "openai", "params": {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6",
                                           "inference_geo": "us", "endpoint": "openai_compat"}},
    ]
    response = owner_api.post(BATCH_URL, {"requests": requests}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["custom_id"] for r in results] == [r["custom_id"] for r in requests]
    by_id = {r["custom_id"]: r["result"] for r in results}
    assert by_id["z-first"] == {"type": "succeeded", "inference_geo": "us", "routing_geo": "us",
                                "price_multiplier": "1.1", "priority_burndown_multiplier": "1.1"}
    assert by_id["a-second"]["inference_geo"] == "us"
    assert by_id["old"] == {"type": "succeeded", "inference_geo": "not_available", "routing_geo": "us",
                            "price_multiplier": "1", "priority_burndown_multiplier": "1"}
    for cid, error_type in [("bad-geo", "invalid_request_error"), ("archived", "permission_error"),
                            ("no-model", "not_found_error"), ("openai", "invalid_request_error")]:
        assert by_id[cid]["type"] == "errored"
        assert by_id[cid]["error"]["type"] == error_type, cid
        assert by_id[cid]["error"]["message"]


@pytest.mark.parametrize(("params", "words"), [
    ({"workspace_id": "wrkspc_a"}, "requests[1].params.model: required"),
    ("x", "requests[1].params: must be a JSON object"),
    ({"organization_id": "o", "surface": "apps", "model": "claude-opus-4-6"}, "requests[1].params.surface"),
    ({"workspace_id": "wrkspc_a", "model": "claude-opus-4-6", "region": "us"}, "requests[1].params.region"),
])
def test_a_batch_item_the_document_refuses_fails_the_whole_batch_naming_it(owner_api, workspaces, params, words):
    """Params of the wrong shape are what the OpenAPI document refuses: a 400 for the batch, not an
    errored item (only well-formed requests get their own decision or error)."""
    body = {"requests": [{"custom_id": "ok", "params": {"workspace_id": workspaces["open"].id,
                                                        "model": "claude-opus-4-6"}},
                         {"custom_id": "bad", "params": params}]}
    status, error_type, message = error_of(owner_api.post(BATCH_URL, body, format="json"))
    assert (status, error_type) == (400, "invalid_request_error") and words in message


@pytest.mark.parametrize(("body", "words"), [
    ({}, "requests: must be a non-empty list"),
    ({"requests": []}, "requests: must be a non-empty list"),
    ({"requests": "x"}, "requests: must be a non-empty list"),
    ({"requests": [{"params": {}}]}, "requests[0].custom_id"),
    ({"requests": [{"custom_id": "a" * 65, "params": {}}]}, "requests[0].custom_id"),
    ({"requests": [{"custom_id": "a", "params": {"workspace_id": "w", "model": "m"}},
                   {"custom_id": "a", "params": {"workspace_id": "w", "model": "m"}}]}, "used twice"),
    ({"requests": [{"custom_id": "a", "params": {}, "extra": 1}]}, "requests[0].extra: unknown field"),
    ({"requests": [1]}, "requests[0]: must be an object"),
    ({"requests": [], "other": 1}, "other: unknown field"),
])
def test_batch_structural_errors_are_400(owner_api, body, words):
    status, error_type, message = error_of(owner_api.post(BATCH_URL, body, format="json"))
    assert (status, error_type) == (400, "invalid_request_error")
    assert words in message


def test_batch_of_10000_is_fine_and_one_more_is_413(owner_api, workspaces):
    response = owner_api.post(BATCH_URL, batch_body(workspaces, MAX_BATCH), format="json")
    assert response.status_code == 200
    assert len(response.json()["results"]) == MAX_BATCH
    response = owner_api.post(BATCH_URL, batch_body(workspaces, MAX_BATCH + 1), format="json")
    status, error_type, message = error_of(response)
    assert (status, error_type) == (413, "request_too_large")
    assert "at most 10,000" in message


# --- the catalog is data -------------------------------------------------------------------

def test_a_model_added_later_with_geo_support_behaves_like_opus_4_6(owner_api, workspaces):
    CatalogModel.objects.create(id="claude-opus-5", display_name="Claude Opus 5", supports_inference_geo=True,
                                input_price=1, cache_write_5m_price=1, cache_write_1h_price=1,
                                cache_read_price=1, output_price=1)
    response = decision(owner_api, workspace_id=workspaces["open"].id, model="claude-opus-5", inference_geo="us")
    assert response.json()["price_multiplier"] == "1.1"



def test_keys_of_removed_members_and_inactive_users_stop_working_at_once(org, owner, member_factory, api, key_for,
                                                                         workspaces):
    body = {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}
    removed, inactive = member_factory(org, "user"), member_factory(org, "user")
    removed_client, inactive_client = api(key_for(removed)), api(key_for(inactive))
    assert removed_client.post(URL, body, format="json").status_code == 200
    assert inactive_client.post(URL, body, format="json").status_code == 200
    services.member_remove(actor=actor_for(owner.user), membership=removed)
    inactive.user.is_active = False
    inactive.user.save(update_fields=["is_active"])
    assert error_of(removed_client.post(URL, body, format="json"))[:2] == (401, "authentication_error")
    assert error_of(inactive_client.post(BATCH_URL, {"requests": [{"custom_id": "a", "params": body}]},
                                         format="json"))[:2] == (401, "authentication_error")


# --- the lean key path answers exactly like the DRF view ------------------------------------

def _both(rf, body, secret, **extra):
    """(status, headers, content) from the lean path and from the DRF path for the same request."""
    from residency.api.decisions import DecisionApi

    answers = []
    for view in (DecisionApi.as_view(), DecisionApi.as_view(lean=False)):
        request = rf.post(URL, data=body, content_type="application/json", HTTP_X_API_KEY=secret, **extra)
        request.request_id = "req_same"
        response = view(request)
        if hasattr(response, "render"):
            response.render()
        answers.append((response.status_code, dict(response.items()), response.content))
    return answers


@pytest.mark.parametrize("kind", ["valid", "bad_key", "empty_key", "long_key"])
@pytest.mark.parametrize("body", [
    '{"workspace_id": "WS", "model": "claude-opus-4-6", "inference_geo": "us"}',
    '{"workspace_id": "WS", "model": "claude-opus-4-6"}',
    '{"workspace_id": "ARCHIVED", "model": "claude-opus-4-6"}',
    '{"workspace_id": "OTHER", "model": "claude-opus-4-6"}',
    '{"workspace_id": "WS", "model": "claude-\u00e9\u2028x"}',
    '{"workspace_id": "WS", "model": "claude-opus-4-6", "inference_geo": "eu"}',
    '{"organization_id": "ORG", "surface": "apps", "model": "claude-opus-4-6"}',
    '{"organization_id": "org_nope\u2029", "surface": "apps", "model": "claude-opus-4-6"}',
    '{"workspace_id": "WS", "model": "claude-opus-4-6", "x": 1}',
    '{"workspace_id": "WS", "model": NaN}',
    '{nope', '[1, 2]', '"text"', '', '\xff',
])
def test_lean_view_matches_drf_view(rf, org, owner, key_for, workspaces, kind, body):
    other = None
    if "OTHER" in body:
        elsewhere = make_org(name="Elsewhere")
        other = residency_services.workspace_create(actor=actor_for(primary_owner(elsewhere).user), organization=elsewhere,
                                          name="Theirs")
    body = (body.replace("WS", workspaces["open"].id).replace("ARCHIVED", workspaces["archived"].id)
            .replace("ORG", org.id).replace("OTHER", other.id if other else ""))
    secret = {"valid": key_for(owner), "bad_key": "sk-nope", "empty_key": "", "long_key": "k" * 201}[kind]
    lean, drf = _both(rf, b"\xff" if body == "\xff" else body.encode(), secret)
    assert lean == drf


# --- malformed input: a bad key is a 401 whatever the body; a good key gets a 400 ------------

MALFORMED_BODIES = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 70 + "1" + "}" * 70,
    "nul in workspace_id": '{"workspace_id": "wrkspc_a\\u0000b", "model": "claude-opus-4-6"}',
    "surrogate in model": '{"workspace_id": "wrkspc_a", "model": "claude-\\ud800"}',
    "huge number": '{"workspace_id": "wrkspc_a", "model": "claude-opus-4-6", "inference_geo": 1e400}',
    "20-digit integer": '{"workspace_id": "wrkspc_a", "model": "claude-opus-4-6", "x": 12345678901234567890}',
    "id too long": '{"workspace_id": "' + "w" * 101 + '", "model": "claude-opus-4-6"}',
    "not utf-8": b'{"workspace_id": "\xff"}',
}


@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
@pytest.mark.parametrize("url", [URL, BATCH_URL])
def test_malformed_bodies_are_401_with_a_bad_key_and_400_with_a_good_one(owner, api, key_for, url, name):
    body = MALFORMED_BODIES[name]
    if url == BATCH_URL and isinstance(body, str) and body.startswith('{"workspace_id"'):
        body = '{"requests": [{"custom_id": "a", "params": ' + body + "}]}"
    good, bad = api(key_for(owner)), api("rc-api-not-a-key")
    assert error_of(bad.post(url, body, content_type="application/json"))[:2] == (401, "authentication_error")
    response = good.post(url, body, content_type="application/json")
    assert error_of(response)[:2] == (400, "invalid_request_error"), name


def test_the_lean_path_looks_the_key_up_alone_only_for_a_malformed_body(owner, api, key_for, workspaces,
                                                                        django_assert_num_queries):
    client = api(key_for(owner))
    client.post(URL, {"workspace_id": "x", "model": "x"}, format="json")  # last_used_at recorded
    with django_assert_num_queries(1):  # the key, alone
        assert client.post(URL, "[" * 100, content_type="application/json").status_code == 400
    with django_assert_num_queries(1):  # the key with the state, in one statement
        assert decision(client, workspace_id=workspaces["open"].id, model="claude-opus-4-6").status_code == 200


# --- DECISION_RATE_LIMIT (SPEC §6): unset by default, enforced the same way when set ------------


def test_the_decision_limit_counts_lean_drf_and_batch_requests_in_one_bucket(owner, api, key_for, workspaces,
                                                                               settings, client):
    settings.DECISION_RATE_LIMIT = "3/min"
    secret = key_for(owner)
    body = {"workspace_id": workspaces["open"].id, "model": "claude-opus-4-6"}
    lean = api(secret)
    assert lean.post(URL, body, format="json").status_code == 200  # the lean path
    assert lean.post(BATCH_URL, {"requests": [{"custom_id": "a", "params": body}]},
                     format="json").status_code == 200  # the batch, through DRF
    assert lean.post(URL, "[]", content_type="application/json").status_code == 400  # counted after auth too
    limited = lean.post(URL, body, format="json")
    status, error_type, message = error_of(limited)
    assert (status, error_type) == (429, "rate_limit_error") and "3 requests per minute" in message
    assert 0 < int(limited["retry-after"]) <= 60
    assert error_of(lean.post(BATCH_URL, {"requests": [{"custom_id": "a", "params": body}]}, format="json"))[0] \
        == 429
    # another key has its own bucket; a bad key is still a 401 first
    other = api(key_for(owner, name="second"))
    assert other.post(URL, body, format="json").status_code == 200
    assert error_of(api("rc-api-nope").post(URL, body, format="json"))[0] == 401
