"""Malformed input against every REST endpoint (SPEC §6): a 400 `invalid_request_error` (a 401
first when the key is bad), never a 500, and nothing recorded or changed.

The table: for every endpoint, what it reads (path id, query parameters by kind, JSON body fields
by kind); `cases(endpoint)` turns that into requests carrying one malformed value each: NUL and
unpaired surrogates in every string field, path id, query key and value; JSON nested 100,000
deep; numbers beyond what JSON readers keep (1e400, 1e16, a 20-digit integer) and -0.0 where a
number is not expected; dates near year 1 and 9999; wrong JSON types. Each endpoint is one test
(one set-up), each request one row of its failure message.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from audit.models import AuditEvent
from orgs.models import ApiKey, Membership, Role, Workspace
from residency import services as residency_services
from residency.models import ChangeRequest, UsageRecord
from tests.factories import actor_for, add_member, api_key_for
from tests.openapi import operations, served_document
from tests.residency.helpers import usage_row, workspace

pytestmark = pytest.mark.django_db

NUL, SURROGATE = "a\x00b", "a\ud800b"
# JSON numbers written as text (json.dumps cannot write them): 1e400 is infinite for most readers,
# 1e16 and a 20-digit integer lose digits, -0.0 is a float where none is expected
RAW_NUMBERS = ("1e400", "1e16", "12345678901234567890", "-0.0")
WRONG_TYPES = (0, True, [], {})
DATES = ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "9999-06-01T00:00:00Z", "0000-12-31T00:00:00Z",
         "yesterday")
DEEP = "[" * 100_000 + "]" * 100_000
BAD_PATH_IDS = ("a%00b", "%ED%A0%80")  # a NUL; an encoded surrogate (bytes that are no UTF-8 text)


class Raw(str):
    """A JSON value written as is into the body."""


def render(body):
    raws = {}

    def mark(value):
        if isinstance(value, Raw):
            raws[f"@raw{len(raws)}@"] = str(value)
            return f"@raw{len(raws) - 1}@"
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(body))  # ensure_ascii: NUL and surrogates become \u escapes
    for marker, raw in raws.items():
        text = text.replace(f'"{marker}"', raw)
    return text


def with_value(body, path, value):
    """A copy of `body` with the value at `path` (keys and list indexes) replaced."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


@dataclass
class Endpoint:
    method: str
    path: str
    path_id: bool = False
    query: dict = field(default_factory=dict)  # name -> kind: text, int, id, date, bool, enum, list
    base_query: dict = field(default_factory=dict)
    body: dict | None = None
    strings: tuple = ()  # paths of string fields
    numbers: tuple = ()  # paths of integer fields
    booleans: tuple = ()
    objects: tuple = ()  # paths of fields that take an object or a list
    only_hygiene: tuple = ()  # paths whose wrong types are answered per item (batch params), not 400
    operation: str = ""  # its operationId in the OpenAPI document, when the table's name is not it


LIST = {"limit": "int", "after_id": "id", "before_id": "id"}
REPORT = {"starting_at": "date", "ending_at": "date", "page": "date", "bucket_width": "enum", "limit": "int",
          "group_by[]": "enum", "workspace_ids[]": "text", "models[]": "text", "inference_geos[]": "text"}
ANALYTICS = {"starting_at": "date", "ending_at": "date", "time_bucket_width": "enum", "group_by[]": "enum",
             "workspace_ids[]": "text", "models[]": "text", "inference_geos[]": "text", "service_tiers[]": "enum",
             "products[]": "enum", "order_by": "enum", "order": "enum", "limit": "int", "page": "id"}
DAY = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z"}
DECISION = {"workspace_id": "{workspace_id}", "model": "claude-opus-4-6", "inference_geo": "us", "endpoint": "messages"}

ENDPOINTS = {
    "organization_retrieve": Endpoint("GET", "/v1/organizations/me"),
    "inference_residency_retrieve": Endpoint("GET", "/v1/organizations/inference_residency"),
    "inference_residency_update": Endpoint("POST", "/v1/organizations/inference_residency", body={"us_only": True},
                                           booleans=(("us_only",),)),
    "users_list": Endpoint("GET", "/v1/organizations/users", query={**LIST, "email": "text", "roles[]": "text"}),
    "users_create": Endpoint("POST", "/v1/organizations/users", body={"email": "new@acme.test", "role": "user"},
                             strings=(("email",), ("role",))),
    "users_retrieve": Endpoint("GET", "/v1/organizations/users/{user_id}", path_id=True),
    "users_update": Endpoint("POST", "/v1/organizations/users/{user_id}", path_id=True, body={"role": "admin"},
                             strings=(("role",),)),
    "roles_list": Endpoint("GET", "/v1/organizations/roles", query=LIST),
    "roles_create": Endpoint("POST", "/v1/organizations/roles", body={"name": "Ops", "permissions": {"billing": "view"}},
                             strings=(("name",), ("permissions", "billing")), objects=(("permissions",),)),
    "api_keys_list": Endpoint("GET", "/v1/organizations/api_keys", query={
        **LIST, "status": "enum", "created_by_user_id": "text", "workspace_id": "text"}),
    "api_keys_retrieve": Endpoint("GET", "/v1/organizations/api_keys/{key_id}", path_id=True),
    "api_keys_update": Endpoint("POST", "/v1/organizations/api_keys/{key_id}", path_id=True,
                                body={"name": "k2", "status": "inactive"}, strings=(("name",), ("status",))),
    "api_keys_create": Endpoint("POST", "/v1/organizations/api_keys", body={"name": "k", "user_id": "{user_id}"},
                                strings=(("name",), ("user_id",))),
    "api_keys_revoke": Endpoint("POST", "/v1/organizations/api_keys/{key_id}/revoke", path_id=True),
    "workspaces_list": Endpoint("GET", "/v1/organizations/workspaces", query={
        **LIST, "include_archived": "bool", "include_default": "bool", "ids[]": "text"}),
    "workspaces_create": Endpoint(
        "POST", "/v1/organizations/workspaces",
        body={"name": "W", "data_residency": {"workspace_geo": "us", "allowed_inference_geos": ["us"],
                                              "default_inference_geo": "us"},
              "display_color": "#112233", "tags": {"env": "prod"}},
        strings=(("name",), ("data_residency", "workspace_geo"), ("data_residency", "default_inference_geo"),
                 ("data_residency", "allowed_inference_geos", 0), ("display_color",), ("tags", "env")),
        objects=(("data_residency",), ("data_residency", "allowed_inference_geos"), ("tags",))),
    "workspaces_retrieve": Endpoint("GET", "/v1/organizations/workspaces/{workspace_id}", path_id=True),
    "workspaces_update": Endpoint(
        "POST", "/v1/organizations/workspaces/{workspace_id}", path_id=True,
        body={"name": "W2", "data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
              "display_color": "#112233", "tags": {"env": "prod"}},
        strings=(("name",), ("data_residency", "default_inference_geo"), ("data_residency", "allowed_inference_geos", 0),
                 ("display_color",), ("tags", "env")),
        objects=(("data_residency",), ("data_residency", "allowed_inference_geos"), ("tags",))),
    "workspaces_archive": Endpoint("POST", "/v1/organizations/workspaces/{workspace_id}/archive", path_id=True),
    "data_residency_policy_retrieve": Endpoint("GET", "/v1/organizations/data_residency_policy"),
    "data_residency_policy_update": Endpoint(
        "POST", "/v1/organizations/data_residency_policy",
        body={"allowed_inference_geos": ["us"], "default_inference_geo": "us", "apply_to_workspaces": False},
        strings=(("default_inference_geo",), ("allowed_inference_geos", 0)),
        booleans=(("apply_to_workspaces",),), objects=(("allowed_inference_geos",),)),
    "residency_impact_create": Endpoint(
        "POST", "/v1/organizations/residency_impact",
        body={"change": {"workspace": {"id": "{workspace_id}", "data_residency": {
            "allowed_inference_geos": ["us"], "default_inference_geo": "us"}}}, "days": 30},
        strings=(("change", "workspace", "id"), ("change", "workspace", "data_residency", "default_inference_geo"),
                 ("change", "workspace", "data_residency", "allowed_inference_geos", 0)),
        numbers=(("days",),),
        objects=(("change",), ("change", "workspace"), ("change", "workspace", "data_residency"),
                 ("change", "workspace", "data_residency", "allowed_inference_geos"))),
    "audit_events_list": Endpoint("GET", "/v1/organizations/audit_events", query={
        **LIST, "action": "enum", "actor_id": "text", "target_id": "text", "starting_at": "date", "ending_at": "date",
        "format": "enum"}),
    "audit_events_csv": Endpoint("GET", "/v1/organizations/audit_events.csv", query={
        "action": "enum", "actor_id": "text", "target_id": "text", "starting_at": "date", "ending_at": "date"}),
    "usage_records_create": Endpoint(
        "POST", "/v1/organizations/usage_records", body={"records": ["{row}"]},
        strings=tuple(("records", 0, name) for name in ("id", "workspace_id", "model", "inference_geo",
                                                        "service_tier", "occurred_at")),
        numbers=(("records", 0, "uncached_input_tokens"), ("records", 0, "output_tokens"),
                 ("records", 0, "cache_read_input_tokens"), ("records", 0, "cache_creation", "ephemeral_5m_input_tokens")),
        objects=(("records",), ("records", 0), ("records", 0, "cache_creation"))),
    "usage_report_messages_retrieve": Endpoint("GET", "/v1/organizations/usage_report/messages", query=REPORT,
                                               base_query=DAY),
    "cost_report_retrieve": Endpoint("GET", "/v1/organizations/cost_report", query=REPORT, base_query=DAY),
    "analytics_usage_list": Endpoint("GET", "/v1/organizations/analytics/usage", query=ANALYTICS, base_query=DAY),
    "analytics_cost_list": Endpoint("GET", "/v1/organizations/analytics/cost", query=ANALYTICS, base_query=DAY),
    "approval_settings_retrieve": Endpoint("GET", "/v1/organizations/approval_settings"),
    "approval_settings_update": Endpoint("POST", "/v1/organizations/approval_settings",
                                         body={"loosening_requires_approval": True},
                                         booleans=(("loosening_requires_approval",),)),
    "change_requests_list": Endpoint("GET", "/v1/organizations/change_requests", query={**LIST, "status": "enum"}),
    "change_requests_retrieve": Endpoint("GET", "/v1/organizations/change_requests/{change_request_id}",
                                         path_id=True),
    "change_requests_approve": Endpoint("POST", "/v1/organizations/change_requests/{change_request_id}/approve",
                                        path_id=True),
    "change_requests_reject": Endpoint("POST", "/v1/organizations/change_requests/{change_request_id}/reject",
                                       path_id=True),
    "change_requests_withdraw": Endpoint("POST", "/v1/organizations/change_requests/{change_request_id}/withdraw",
                                         path_id=True),
    # the decision endpoints are the decision work's; they are held to the same rule
    "decisions": Endpoint("POST", "/v1/residency/decisions", body=DECISION,
                          strings=tuple((name,) for name in DECISION), operation="decisions_create"),
    "decisions_apps": Endpoint("POST", "/v1/residency/decisions",
                               body={"organization_id": "{organization_id}", "surface": "apps",
                                     "model": "claude-opus-4-6"},
                               strings=(("organization_id",), ("surface",), ("model",)), operation="decisions_create"),
    "decisions_batch": Endpoint("POST", "/v1/residency/decisions/batch",
                                body={"requests": [{"custom_id": "a", "params": dict(DECISION)}]},
                                strings=(("requests", 0, "custom_id"),),
                                objects=(("requests",), ("requests", 0)),
                                only_hygiene=tuple(("requests", 0, "params", name) for name in DECISION),
                                operation="decisions_batch_create"),
}


def test_the_table_has_every_operation_of_the_openapi_document():
    """A new operation cannot ship without its rows here: every operationId the server documents
    is in the table, at its method and path, and the table names no operation that is gone."""
    documented = operations(served_document())
    table = {}
    for name, endpoint in ENDPOINTS.items():
        table.setdefault(endpoint.operation or name, set()).add((endpoint.method, endpoint.path))
    missing = sorted(set(documented) - set(table))
    assert not missing, f"operations with no malformed-input rows: {missing}"
    assert not sorted(set(table) - set(documented)), "rows for operations the document does not have"
    wrong = {op: (table[op], documented[op]) for op in documented if table[op] != {documented[op]}}
    assert not wrong, f"rows at another method or path than the document's: {wrong}"


def query_cases(endpoint):
    base = dict(endpoint.base_query)
    yield "NUL in a query parameter's name", {**base, "x\x00": "1"}
    yield "NUL in an unknown query parameter", {**base, "x": NUL}
    for name, kind in endpoint.query.items():
        yield f"NUL in {name}", {**base, name: NUL}
        bad = {
            "int": ["abc", *RAW_NUMBERS, "0", "1001", ""],
            "id": ["abc-not-here", *RAW_NUMBERS],
            "date": list(DATES) + [""],
            "bool": ["yes", "1", ""],
            "enum": ["nope", ""],
            "text": [],
        }[kind]
        for value in bad:
            yield f"{name}={value!r}", {**base, name: value}


def body_cases(endpoint, body):
    yield "JSON nested 100,000 deep", DEEP
    yield "a body of whitespace only (not JSON)", " \n"
    yield "a JSON list for a body", "[]"
    yield "a JSON string for a body", '"x"'
    yield "NUL in a key", render({**body, "\x00": 1})
    yield "an unpaired surrogate in a key", render({**body, "\ud800": 1})
    for raw in RAW_NUMBERS[:3]:
        yield f"{raw} in an unknown field", render({**body, "extra": Raw(raw)})
    for path in endpoint.strings + endpoint.only_hygiene:
        where = ".".join(map(str, path))
        yield f"NUL in {where}", render(with_value(body, path, NUL))
        yield f"an unpaired surrogate in {where}", render(with_value(body, path, SURROGATE))
        for raw in RAW_NUMBERS[:3]:
            yield f"{raw} in {where}", render(with_value(body, path, Raw(raw)))
        if path in endpoint.only_hygiene:
            continue
        yield f"-0.0 in {where}", render(with_value(body, path, Raw("-0.0")))
        for wrong in WRONG_TYPES:
            yield f"{wrong!r} in {where}", render(with_value(body, path, wrong))
    for path in endpoint.numbers:
        where = ".".join(map(str, path))
        for raw in RAW_NUMBERS:
            yield f"{raw} in {where}", render(with_value(body, path, Raw(raw)))
        for wrong in ("12", True, [], {}, -1):
            yield f"{wrong!r} in {where}", render(with_value(body, path, wrong))
    for path in endpoint.booleans:
        where = ".".join(map(str, path))
        for wrong in (*RAW_NUMBERS, 0, 1, "true", NUL, [], {}):
            yield f"{wrong!r} in {where}", render(with_value(body, path, Raw(wrong) if wrong in RAW_NUMBERS else wrong))
    for path in endpoint.objects:
        where = ".".join(map(str, path))
        for wrong in ("x", 0, Raw("-0.0"), True):
            yield f"{wrong!r} for {where}", render(with_value(body, path, wrong))
    if ("records", 0, "occurred_at") in endpoint.strings:
        for value in DATES:
            yield f"occurred_at {value}", render(with_value(body, ("records", 0, "occurred_at"), value))


@pytest.fixture
def world(org, owner):
    ws = workspace(org, "Prod")
    member = add_member(org, "user")
    api_key_for(member, name="theirs")
    key = ApiKey.objects.get(membership=member)
    # a pending change request (turning approvals off, asked by the owner) for the change request endpoints
    residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                             loosening_requires_approval=True)
    held = residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                                    loosening_requires_approval=False)
    ids = {"workspace_id": ws.pk, "user_id": member.user_id, "key_id": key.pk, "organization_id": org.pk,
           "change_request_id": held.pk}
    return {"ids": ids, "row": usage_row(ws, 1), "secret": api_key_for(owner, name="table key")}


def fill(value, ids, row):
    if value == "{row}":
        return dict(row)
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {key: fill(item, ids, row) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids, row) for item in value]
    return value


def requests_for(endpoint, world):
    """(label, method, path, query, body text or None) for every malformed request."""
    ids = world["ids"]
    path = endpoint.path.format(**ids)
    body = fill(endpoint.body, ids, world["row"]) if endpoint.body is not None else None
    text = render(body) if body is not None else None
    if endpoint.path_id:
        template = endpoint.path.split("{")[0]
        suffix = endpoint.path.split("}")[1]
        for bad in BAD_PATH_IDS:
            yield f"path id {bad}", template + bad + suffix, dict(endpoint.base_query), text
    for label, query in query_cases(endpoint):
        yield label, path, query, text
    if body is not None:
        for label, bad_body in body_cases(endpoint, body):
            yield label, path, dict(endpoint.base_query), bad_body


def state():
    return (AuditEvent.objects.count(), Workspace.objects.filter(archived_at__isnull=True).count(),
            Membership.objects.count(), Role.objects.count(), list(ApiKey.objects.values_list("name", "status")),
            UsageRecord.objects.count(), list(ChangeRequest.objects.values_list("status", flat=True)))


def send(client, method, path, query, body):
    if query:
        path = f"{path}?{urlencode(query, doseq=True)}"
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, body or "", content_type="application/json")


def refusals(name, world, client):
    """(how many requests were sent, the failures) for the endpoint's malformed requests."""
    endpoint = ENDPOINTS[name]
    failures, count = [], 0
    for label, path, query, body in requests_for(endpoint, world):
        count += 1
        response = send(client, endpoint.method, path, query, body)
        kind = response.json().get("error", {}).get("type") if response.get("Content-Type") == "application/json" \
            else None
        if (response.status_code, kind) != (400, "invalid_request_error"):
            failures.append(f"{label}: {response.status_code} {response.content[:200]!r}")
    return count, failures




@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_malformed_input_is_a_400_and_changes_nothing(name, world, api):
    before = state()
    count, failures = refusals(name, world, api(world["secret"]))
    assert count >= 2
    assert not failures, f"{name}: {len(failures)} of {count} malformed requests not refused:\n" + "\n".join(failures)
    assert state() == before, "a refused request recorded or changed something"


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_a_bad_key_is_a_401_whatever_the_input(name, world, api):
    endpoint = ENDPOINTS[name]
    failures = []
    for secret in (None, "rc-api-not-a-key"):
        client = api(secret)
        for label, path, query, body in requests_for(endpoint, world):
            response = send(client, endpoint.method, path, query, body)
            if response.status_code != 401 or response.json()["error"]["type"] != "authentication_error":
                failures.append(f"key {str(secret)[:12]!r}, {label}: {response.status_code}")
    assert not failures, f"{name}:\n" + "\n".join(failures[:50])


# --- found by schemathesis (scripts/fuzz_api.py) -----------------------------------------------


@pytest.mark.django_db
def test_a_multipart_body_without_a_boundary_is_a_400_not_a_500(client, org, owner):
    response = client.post("/login/", data=b"x", content_type="multipart/form-data")
    assert response.status_code == 400
    client.force_login(owner.user)
    response = client.post("/workspaces/new/", data=b"x", content_type="multipart/form-data")
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_timestamp_with_any_offset_rfc_3339_allows_is_read_in_utc(api, key_for, owner):
    response = api(key_for(owner)).get("/v1/organizations/audit_events",
                                       {"ending_at": "3166-01-07T20:15:01+16:26", "format": "json"})
    assert response.status_code == 200
