"""The OpenAPI document at /v1/openapi.json says exactly what the server does (issue 14's tool
author's view): names, errors, bounds, strict inputs, examples. See also test_openapi_responses."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.views import APIView

from core.pagination import PaginatedListMixin
from orgs.api.base import OrgApi
from tests.core.test_malformed_input import ENDPOINTS, fill, render, with_value
from tests.factories import add_member, api_key_for
from tests.openapi import Document
from tests.residency.helpers import usage_row, workspace

OPERATIONS = {
    ("get", "/v1/organizations/me"): "organization_retrieve",
    ("get", "/v1/organizations/inference_residency"): "inference_residency_retrieve",
    ("post", "/v1/organizations/inference_residency"): "inference_residency_update",
    ("get", "/v1/organizations/users"): "users_list",
    ("post", "/v1/organizations/users"): "users_create",
    ("get", "/v1/organizations/users/{user_id}"): "users_retrieve",
    ("post", "/v1/organizations/users/{user_id}"): "users_update",
    ("get", "/v1/organizations/roles"): "roles_list",
    ("post", "/v1/organizations/roles"): "roles_create",
    ("get", "/v1/organizations/api_keys"): "api_keys_list",
    ("post", "/v1/organizations/api_keys"): "api_keys_create",
    ("get", "/v1/organizations/api_keys/{key_id}"): "api_keys_retrieve",
    ("post", "/v1/organizations/api_keys/{key_id}"): "api_keys_update",
    ("post", "/v1/organizations/api_keys/{key_id}/revoke"): "api_keys_revoke",
    ("get", "/v1/organizations/workspaces"): "workspaces_list",
    ("post", "/v1/organizations/workspaces"): "workspaces_create",
    ("get", "/v1/organizations/workspaces/{workspace_id}"): "workspaces_retrieve",
    ("post", "/v1/organizations/workspaces/{workspace_id}"): "workspaces_update",
    ("post", "/v1/organizations/workspaces/{workspace_id}/archive"): "workspaces_archive",
    ("get", "/v1/organizations/data_residency_policy"): "data_residency_policy_retrieve",
    ("post", "/v1/organizations/data_residency_policy"): "data_residency_policy_update",
    ("post", "/v1/organizations/residency_impact"): "residency_impact_create",
    ("get", "/v1/organizations/audit_events"): "audit_events_list",
    ("post", "/v1/organizations/usage_records"): "usage_records_create",
    ("get", "/v1/organizations/usage_report/messages"): "usage_report_messages_retrieve",
    ("get", "/v1/organizations/cost_report"): "cost_report_retrieve",
    ("get", "/v1/organizations/analytics/usage"): "analytics_usage_list",
    ("get", "/v1/organizations/analytics/cost"): "analytics_cost_list",
    ("get", "/v1/organizations/approval_settings"): "approval_settings_retrieve",
    ("post", "/v1/organizations/approval_settings"): "approval_settings_update",
    ("get", "/v1/organizations/change_requests"): "change_requests_list",
    ("get", "/v1/organizations/change_requests/{change_request_id}"): "change_requests_retrieve",
    ("post", "/v1/organizations/change_requests/{change_request_id}/approve"): "change_requests_approve",
    ("post", "/v1/organizations/change_requests/{change_request_id}/reject"): "change_requests_reject",
    ("post", "/v1/organizations/change_requests/{change_request_id}/withdraw"): "change_requests_withdraw",
}
# (request component, 200 component) per operation
SHAPES = {
    "organization_retrieve": (None, "Organization"),
    "inference_residency_retrieve": (None, "InferenceResidency"),
    "inference_residency_update": ("InferenceResidencyUpdate", "InferenceResidency"),
    "users_list": (None, "UserList"),
    "users_create": ("UserCreate", "User"),
    "users_retrieve": (None, "User"),
    "users_update": ("UserUpdate", "User"),
    "roles_list": (None, "RoleList"),
    "roles_create": ("RoleCreate", "Role"),
    "api_keys_list": (None, "ApiKeyList"),
    "api_keys_create": ("ApiKeyCreate", "ApiKeyCreated"),
    "api_keys_retrieve": (None, "ApiKey"),
    "api_keys_update": ("ApiKeyUpdate", "ApiKey"),
    "api_keys_revoke": (None, "ApiKey"),
    "workspaces_list": (None, "WorkspaceList"),
    "workspaces_create": ("WorkspaceCreate", "Workspace"),
    "workspaces_retrieve": (None, "Workspace"),
    "workspaces_update": ("WorkspaceUpdate", "Workspace"),
    "workspaces_archive": (None, "Workspace"),
    "data_residency_policy_retrieve": (None, "DataResidencyPolicy"),
    "data_residency_policy_update": ("DataResidencyPolicyUpdate", "DataResidencyPolicy"),
    "residency_impact_create": ("ResidencyImpactCreate", "ResidencyImpact"),
    "audit_events_list": (None, "AuditEventList"),
    "usage_records_create": ("UsageRecordsIngest", "UsageRecordsIngested"),
    "usage_report_messages_retrieve": (None, "UsageReport"),
    "cost_report_retrieve": (None, "CostReport"),
    "analytics_usage_list": (None, "AnalyticsUsagePage"),
    "analytics_cost_list": (None, "AnalyticsCostPage"),
    "approval_settings_retrieve": (None, "ApprovalSettings"),
    "approval_settings_update": ("ApprovalSettingsUpdate", "ApprovalSettings"),
    "change_requests_list": (None, "ChangeRequestList"),
    "change_requests_retrieve": (None, "ChangeRequest"),
    "change_requests_approve": (None, "ChangeRequest"),
    "change_requests_reject": (None, "ChangeRequest"),
    "change_requests_withdraw": (None, "ChangeRequest"),
}
# the operations whose change may be held for approval (SPEC §8): 202 with the change request
HELD = {"inference_residency_update", "workspaces_update", "approval_settings_update", "data_residency_policy_update"}
# the error statuses each operation can answer beyond 400, 401, 429 and 500: 404 everywhere under
# /v1/organizations (a console session of someone in no organization; hidden areas); 403 where a
# role or a lock refuses, or CSRF refuses a console session's POST; 413/415 wherever a body is read
ORG_ERRORS = {
    "organization_retrieve": {404},
    "inference_residency_retrieve": {404},
    "inference_residency_update": {403, 404, 413, 415},
    "users_list": {403, 404},
    "users_create": {403, 404, 413, 415},
    "users_retrieve": {403, 404},
    "users_update": {403, 404, 413, 415},
    "roles_list": {403, 404},
    "roles_create": {403, 404, 413, 415},
    "api_keys_list": {404},
    "api_keys_create": {403, 404, 413, 415},
    "api_keys_retrieve": {404},
    "api_keys_update": {403, 404, 413, 415},
    "api_keys_revoke": {403, 404},
    "workspaces_list": {404},
    "workspaces_create": {403, 404, 413, 415},
    "workspaces_retrieve": {404},
    "workspaces_update": {403, 404, 413, 415},
    "workspaces_archive": {403, 404},
    "data_residency_policy_retrieve": {404},
    "data_residency_policy_update": {403, 404, 413, 415},
    "residency_impact_create": {403, 404, 413, 415},
    "audit_events_list": {404},
    "usage_records_create": {403, 404, 413, 415},
    "usage_report_messages_retrieve": {404},
    "cost_report_retrieve": {403, 404},
    "analytics_usage_list": {404},
    "analytics_cost_list": {403, 404},
    "approval_settings_retrieve": {404},
    "approval_settings_update": {403, 404, 413, 415},
    "change_requests_list": {404},
    "change_requests_retrieve": {404},
    "change_requests_approve": {403, 404, 409},
    "change_requests_reject": {403, 404, 409},
    "change_requests_withdraw": {403, 404, 409},
}
COMPONENTS = {
    "Workspace", "WorkspaceCreate", "WorkspaceUpdate", "DataResidency", "User", "UserCreate", "UserUpdate", "Role",
    "RoleCreate", "ApiKey", "ApiKeyCreate", "ApiKeyCreated", "InferenceResidency", "InferenceResidencyUpdate",
    "AuditEvent", "UsageRecordsIngest", "UsageRecordsIngested", "UsageReport", "CostReport", "Organization", "Error",
    "WorkspaceList", "UserList", "RoleList", "ApiKeyList", "AuditEventList", "ApiKeyUpdate", "AnalyticsUsagePage",
    "AnalyticsCostPage", "DataResidencyPolicy", "DataResidencyPolicyUpdate", "ResidencyImpactCreate", "ResidencyChange",
    "ResidencyImpact",
    "ApprovalSettings", "ApprovalSettingsUpdate", "ChangeRequest", "ChangeRequestList",
}
# the analytics lists page as the Admin API's reports do: `page` in, `next_page` out
REPORT_LISTS = {"analytics_usage_list", "analytics_cost_list"}
ALWAYS = {"400", "401", "429", "500", "503"}  # 503: the database cannot be reached (retry-after)


@pytest.fixture(scope="module")
def doc():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def document(doc):
    return Document(json.loads(json.dumps(doc)))


def ours(doc):
    for (method, path), operation_id in OPERATIONS.items():
        yield operation_id, doc["paths"][path][method]


def every_operation(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def ref_name(schema):
    return schema["$ref"].rsplit("/", 1)[-1]


def test_operation_ids_tags_and_texts(doc):
    declared = {tag["name"]: tag.get("description") for tag in doc["tags"]}
    assert all(declared.values()), "every tag has a description"
    summaries = set()
    for operation_id, operation in ours(doc):
        assert operation["operationId"] == operation_id
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, operation_id
        assert operation_id.startswith(operation["tags"][0].lower().replace(" ", "_")), operation_id  # resource_action
        assert operation.get("summary") and operation.get("description"), operation_id
        assert operation["summary"] not in summaries, operation_id
        summaries.add(operation["summary"])
        text = json.dumps(operation)
        assert "SPEC" not in text and OrgApi.__doc__.split(":")[0] not in operation["description"], operation_id
    for name, operation in every_operation(doc):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, name


def test_component_names_a_tool_author_would_choose(doc):
    names = set(doc["components"]["schemas"])
    assert COMPONENTS <= names, COMPONENTS - names
    leaked = [n for n in names if n.endswith(("Input", "Output")) or n.startswith("Patched")
              or n in ("NullEnum", "BlankEnum")]
    assert not leaked, f"component names that leak view classes or drf-spectacular's defaults: {leaked}; name the " \
                       "serializer as a tool author would (core.schema.AutoSchema.get_serializer_name), or set " \
                       "ENUM_NAME_OVERRIDES / ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE"
    for operation_id, operation in ours(doc):
        request, response = SHAPES[operation_id]
        body = operation.get("requestBody")
        if request is None:
            assert body is None, operation_id
        else:
            assert ref_name(body["content"]["application/json"]["schema"]) == request, operation_id
            assert body["required"] is True, operation_id
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ref_name(schema["oneOf"][0] if "oneOf" in schema else schema) == response, operation_id


def test_every_operation_declares_the_errors_it_can_answer(doc):
    for name, operation in every_operation(doc):
        responses = operation["responses"]
        assert ALWAYS <= set(responses), name
        for code, response in responses.items():
            assert response["headers"]["request-id"]["required"] is True, (name, code)
            if code >= "400":
                assert ref_name(response["content"]["application/json"]["schema"]) == "Error", (name, code)
        assert "retry-after" in responses["429"]["headers"], name
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, name
    for operation_id, operation in ours(doc):
        accepted = {"202"} if operation_id in HELD else set()
        assert set(operation["responses"]) == {"200"} | accepted | ALWAYS | {str(c) for c in ORG_ERRORS[operation_id]}, \
            operation_id
        if accepted:
            assert ref_name(operation["responses"]["202"]["content"]["application/json"]["schema"]) == "ChangeRequest"


def test_a_conflict_is_a_conflict_error(doc):
    error = doc["components"]["schemas"]["ErrorDetail"]["properties"]["type"]
    types = doc["components"]["schemas"][ref_name(error["allOf"][0])]["enum"] if "allOf" in error else error["enum"]
    assert "conflict_error" in types
    example = doc["paths"]["/v1/organizations/change_requests/{change_request_id}/approve"]["post"]["responses"]["409"]
    value = next(iter(example["content"]["application/json"]["examples"].values()))["value"]
    assert value["error"]["type"] == "conflict_error"


def test_security_is_listed_once_and_servers_are_given(doc):
    assert doc["servers"]
    for name, operation in every_operation(doc):
        entries = [json.dumps(entry, sort_keys=True) for entry in operation["security"]]
        assert len(entries) == len(set(entries)), name
    assert doc["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "apiKey", "in": "header",
                                                                  "name": "x-api-key"}
    # the official SDK sends the key as a bearer token: either scheme alone is enough (SPEC §9)
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    for operation_id, operation in ours(doc):
        assert {"ApiKeyAuth": []} in operation["security"] and {"BearerAuth": []} in operation["security"], \
            operation_id


def test_lists_share_the_pagination_parameters_and_shape(doc):
    for operation_id, operation in ours(doc):
        if not operation_id.endswith("_list") or operation_id in REPORT_LISTS:
            continue
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20}
        assert params["after_id"]["schema"]["type"] == params["before_id"]["schema"]["type"] == "string"
        listing = doc["components"]["schemas"][SHAPES[operation_id][1]]
        assert set(listing["required"]) == {"data", "has_more", "first_id", "last_id"}, operation_id


def refs(node):
    return [part.split('"')[0] for part in json.dumps(node).split('"$ref": "#/components/schemas/')[1:]]


def reachable(doc, nodes):
    """The components `nodes` refer to, directly or through other components."""
    components = doc["components"]["schemas"]
    seen, todo = set(), [name for node in nodes for name in refs(node)]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += refs(components[name])
    return seen


def schemas_of_request_bodies(doc):
    """Every schema a request body can contain, by component name."""
    bodies = [op["requestBody"] for _, op in ours(doc) if "requestBody" in op]
    return {name: doc["components"]["schemas"][name] for name in reachable(doc, bodies)}


def test_inputs_refuse_unknown_fields_and_say_so(doc):
    objects = {n: s for n, s in schemas_of_request_bodies(doc).items() if s.get("type") == "object"}
    assert {"WorkspaceCreate", "DataResidencyCreate", "RolePermissionsCreate", "UsageRecord",
            "UsageRecordCacheCreation"} <= set(objects)
    for name, schema in objects.items():
        assert schema["additionalProperties"] is False, name


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in ENDPOINTS if ENDPOINTS[n].body and not n.startswith("decisions")])
def test_the_server_refuses_unknown_fields_too(name, org, owner, api):
    endpoint = ENDPOINTS[name]
    ws = workspace(org, "Prod")
    member = add_member(org, "user")
    client = api(api_key_for(owner))
    key_id = client.get("/v1/organizations/api_keys").json()["data"][0]["id"]
    ids = {"workspace_id": ws.pk, "user_id": member.user_id, "organization_id": org.pk, "key_id": key_id}
    body = fill(endpoint.body, ids, usage_row(ws, 1))
    paths = [("extra",), *[(*p, "extra") for p in endpoint.objects if p != ("records",)
                           and p[-1] != "allowed_inference_geos"]]
    for path in paths:
        bad = with_value(body, path, 1)
        response = client.generic(endpoint.method, endpoint.path.format(**ids), render(bad),
                                  content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        assert "extra: " in response.json()["error"]["message"], (path, response.content)


def test_strict_types_and_bounds(doc):
    schemas = doc["components"]["schemas"]
    for name in ("ApiKeyCreate", "RoleCreate", "WorkspaceCreate"):
        assert schemas[name]["properties"]["name"]["type"] == "string", name
        assert schemas[name]["properties"]["name"]["maxLength"] in (100, 200), name
        assert "name" in schemas[name]["required"], name
    records = schemas["UsageRecordsIngest"]["properties"]["records"]
    assert (records["minItems"], records["maxItems"]) == (1, 5000)
    row = schemas["UsageRecord"]
    # workspace_id: required for API rows, absent for Claude apps rows (a rule the service states)
    assert set(row["required"]) == {"id", "model", "inference_geo", "service_tier", "occurred_at"}
    assert row["properties"]["output_tokens"] == {"type": "integer", "maximum": 10**12, "minimum": 0, "format": "int64",
                                                  "description": "Output tokens."}
    assert schemas["Organization"]["properties"]["plan"]["allOf"] == [{"$ref": "#/components/schemas/PlanEnum"}]
    assert schemas["PlanEnum"]["enum"] == ["team", "enterprise_seat", "enterprise_usage"]
    permissions = schemas["RolePermissionsCreate"]["properties"]
    assert permissions["billing"] == {"$ref": "#/components/schemas/AreaLevelEnum"}
    assert permissions["audit_log"] == {"$ref": "#/components/schemas/AuditLogLevelEnum"}
    lock = schemas["InferenceResidency"]["properties"]["lock_reason"]
    assert lock["nullable"] is True and lock["allOf"] == [{"$ref": "#/components/schemas/LockReasonEnum"}]
    assert "NullEnum" not in json.dumps(doc)


def test_allowed_inference_geos_is_unrestricted_or_a_list(doc):
    schemas = doc["components"]["schemas"]
    assert schemas["UnrestrictedEnum"]["enum"] == ["unrestricted"]  # one class in a generated client
    for name in ("DataResidency", "DataResidencyCreate", "DataResidencyUpdate", "DataResidencyPolicy",
                 "DataResidencyPolicyUpdate", "PolicyChange"):
        one_of = schemas[name]["properties"]["allowed_inference_geos"]["oneOf"]
        assert one_of[0] == {"$ref": "#/components/schemas/UnrestrictedEnum"}
        assert (one_of[1]["type"], one_of[1]["minItems"], one_of[1]["uniqueItems"]) == ("array", 1, True)
        assert one_of[1]["items"]["type"] == "string"
    assert "workspace_geo" not in schemas["DataResidencyUpdate"]["properties"]  # fixed at creation


def test_reports_usage_and_audit_events_are_typed(doc):
    def untyped(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and not node.get("properties") and "additionalProperties" not in node:
                yield where
            for key, value in node.items():
                yield from untyped(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from untyped(value, f"{where}[{i}]")

    for name in ("UsageRecordsIngest", "UsageRecord", "UsageRecordsIngested", "UsageReport", "UsageReportBucket",
                 "UsageReportResult", "CostReport", "CostReportBucket", "CostReportResult", "AuditEvent", "AuditActor"):
        schema = doc["components"]["schemas"][name]
        assert schema["type"] == "object" and schema["properties"], name
        assert not list(untyped(schema, name)), name


def test_audit_events_declare_the_page_the_json_export_and_csv(doc):
    operation = doc["paths"]["/v1/organizations/audit_events"]["get"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["application/json", "text/csv"]  # generators type the first one they can parse
    assert content["text/csv"]["schema"] == {"type": "string"}
    # a page is an object, the format=json export an array: exactly one alternative fits any body
    assert content["application/json"]["schema"] == {"oneOf": [
        {"$ref": "#/components/schemas/AuditEventList"},
        {"type": "array", "items": {"$ref": "#/components/schemas/AuditExportEvent"}}]}
    exported = doc["components"]["schemas"]["AuditExportEvent"]
    event = doc["components"]["schemas"]["AuditEvent"]
    assert set(exported["properties"]) == set(event["properties"]) | {"organization_id"}
    assert set(exported["required"]) == set(event["required"]) | {"organization_id"}
    fmt = next(p for p in operation["parameters"] if p["name"] == "format")
    assert fmt["schema"]["enum"] == ["json", "csv"]


def test_every_body_has_examples_that_fit_their_schema(document):
    for operation_id, operation in every_operation(document.document):
        contents = [("request", operation["requestBody"]["content"])] if "requestBody" in operation else []
        contents += [(code, response["content"]) for code, response in operation["responses"].items()]
        for where, content in contents:
            for media_type, media in content.items():
                assert media.get("examples"), (operation_id, where, media_type)
                if media_type != "application/json":
                    continue
                for example in media["examples"].values():
                    assert not document.errors(example["value"], media["schema"]), (operation_id, where, example)


def test_example_lists_name_their_first_and_last_items(doc):
    listing = doc["paths"]["/v1/organizations/workspaces"]["get"]["responses"]["200"]["content"]["application/json"]
    example = next(iter(listing["examples"].values()))["value"]
    assert example["first_id"] == example["data"][0]["id"] == example["last_id"]


def test_the_policy_and_impact_say_what_they_take_and_answer(doc):
    schemas = doc["components"]["schemas"]
    policy = schemas["DataResidencyPolicy"]
    assert set(policy["required"]) == {"type", "allowed_inference_geos", "default_inference_geo", "locked",
                                       "lock_reason", "can_manage", "nonconforming_workspace_ids"}
    assert policy["properties"]["lock_reason"]["allOf"] == [{"$ref": "#/components/schemas/PolicyLockReasonEnum"}]
    assert schemas["PolicyLockReasonEnum"]["enum"] == ["contract"]
    assert schemas["DataResidencyPolicyUpdate"]["properties"]["apply_to_workspaces"]["type"] == "boolean"
    assert "required" not in schemas["DataResidencyPolicyUpdate"]  # every field optional
    impact = schemas["ResidencyImpactCreate"]
    assert impact["required"] == ["change"]
    assert (impact["properties"]["days"]["minimum"], impact["properties"]["days"]["maximum"]) == (1, 90)
    assert set(schemas["ResidencyChange"]["properties"]) == {"us_only", "data_residency_policy", "workspace"}
    assert set(schemas["ResidencyImpact"]["required"]) == {"type", "starting_at", "ending_at", "currency",
                                                           "current_cost", "projected_cost", "delta"}
    # the 400 shows the details a workspace outside the policy carries
    examples = doc["paths"]["/v1/organizations/residency_impact"]["post"]["responses"]["400"]["content"][
        "application/json"]["examples"]
    assert {"error_code": "workspace_policy_violation", "field": "allowed_inference_geos"} in [
        e["value"]["error"]["details"] for e in examples.values()]


# --- the bar every operation meets, whoever adds it (the failure message says what to change) ---

OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
BASE_DOCS = {doc.strip() for doc in (OrgApi.__doc__, APIView.__doc__, PaginatedListMixin.__doc__) if doc}


def snake(tag):
    return re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_")


def test_no_schema_is_described_by_a_base_serializers_docstring(doc):
    """A serializer without a docstring inherits its base's (StrictSerializer's talks of
    `from_request`); generated clients show it as the model's documentation."""
    import inspect

    from core.serializers import QuerySerializer, StrictSerializer

    bases = {inspect.cleandoc(cls.__doc__) for cls in (StrictSerializer, QuerySerializer) if cls.__doc__}
    leaked = [name for name, schema in doc["components"]["schemas"].items()
              if inspect.cleandoc(schema.get("description", "")) in bases]
    assert not leaked, f"give these serializers their own docstring: {leaked}"


def test_every_operation_is_named_tagged_and_described(doc):
    declared = {tag["name"]: tag.get("description") for tag in doc["tags"]}
    problems, summaries = [], {}
    for name, operation in every_operation(doc):
        operation_id, tags = operation.get("operationId", ""), operation.get("tags", [])
        if len(tags) != 1 or not declared.get(tags[0]):
            problems.append(f"{name}: tags {tags}: give it one tag (`openapi_tag` on the view, or tags= in "
                            "extend_schema) declared with a description in SPECTACULAR_SETTINGS['TAGS']")
        elif not OPERATION_ID.match(operation_id) or not operation_id.startswith(snake(tags[0]) + "_"):
            problems.append(f"{name}: operationId {operation_id!r} is not `<{snake(tags[0])}>_<action>` in snake "
                            "case: set operation_id= in extend_schema")
        if not operation.get("summary") or not operation.get("description"):
            problems.append(f"{name}: give it a summary= and a description= (or a docstring on the handler)")
        elif operation["description"].strip() in BASE_DOCS:
            problems.append(f"{name}: its description is a base view's docstring: write its own")
        if operation.get("summary") in summaries:
            problems.append(f"{name}: summary {operation['summary']!r} is also {summaries[operation['summary']]}'s")
        summaries.setdefault(operation.get("summary"), name)
    assert not problems, "\n".join(problems)


def test_every_operation_declares_the_statuses_of_its_kind(doc):
    """A POST can be refused by CSRF (a console session's): 403. A body can be too large (413) or
    not JSON (415). Under /v1/organizations, a console session of someone in no organization: 404."""
    problems = []
    for name, operation in every_operation(doc):
        method, path = name.split(" ", 1)
        need = set(ALWAYS)
        need |= {"403"} if method == "POST" else set()
        need |= {"413", "415"} if "requestBody" in operation else set()
        need |= {"404"} if path.startswith("/v1/organizations/") else set()
        missing = sorted(need - set(operation["responses"]))
        if missing:
            problems.append(f"{name}: declare {', '.join(missing)} (core.schema.errors({', '.join(missing)}))")
    assert not problems, "\n".join(problems)


def named(schema):
    """A body schema a generated client gives a name: a component, or a oneOf / array of them."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return named(schema["items"])
    return "oneOf" in schema and all(named(item) for item in schema["oneOf"])


def test_every_body_is_a_named_component(doc):
    problems = []
    for name, operation in every_operation(doc):
        contents = [("request", operation["requestBody"]["content"])] if "requestBody" in operation else []
        contents += [(code, response.get("content", {})) for code, response in operation["responses"].items()]
        for where, content in contents:
            if not content:
                problems.append(f"{name} {where}: no body documented")
            for media_type, media in content.items():
                if media_type.startswith("text/"):
                    if media["schema"] != {"type": "string"}:
                        problems.append(f"{name} {where} {media_type}: a text body is {{'type': 'string'}}")
                elif media_type != "application/json":
                    problems.append(f"{name} {where}: {media_type}: the API speaks application/json (and text/*)")
                elif not named(media["schema"]):
                    problems.append(f"{name} {where}: an inline schema, which generated clients name after the "
                                    "operation (e.g. ...Response200): answer and read bodies with serializers")
        if "requestBody" in operation and list(operation["requestBody"]["content"]) != ["application/json"]:
            problems.append(f"{name}: a request body is JSON only ({list(operation['requestBody']['content'])})")
    assert not problems, "\n".join(problems)


def walk(node, where):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def test_no_object_is_left_untyped(doc):
    """`type: object` without properties becomes an empty model holding everything in
    `additional_properties`: name the fields (a serializer), or say what the values are."""
    untyped = [where for where, node in walk(doc, "#") if isinstance(node, dict) and node.get("type") == "object"
               and not node.get("properties") and "additionalProperties" not in node]
    assert not untyped, f"untyped objects (give them a serializer): {untyped}"


def test_enums_have_names_generated_clients_can_use(doc):
    """Values that do not start with a letter ("1h") become VALUE_0, VALUE_1 in generated clients."""
    problems = []
    for where, node in walk(doc, "#"):
        values = node.get("enum") if isinstance(node, dict) else None
        if not values or all(isinstance(v, str) and v[:1].isalpha() for v in values if v is not None):
            continue
        names = node.get("x-enum-varnames", [])
        if len(names) != len(values) or len(set(names)) != len(names):
            problems.append(f"{where}: enum {values} needs x-enum-varnames: StrictChoiceField(enum_names={{...}})")
    assert not problems, "\n".join(problems)


def test_request_bodies_carry_no_defaults(doc):
    """A generated client sends every default it is told of; a default the server would refuse
    (the apps decision's `endpoint` did) breaks every call. The server applies its own defaults:
    say them in help_text instead of `default=`."""
    bodies = [op["requestBody"] for _, op in every_operation(doc) if "requestBody" in op]
    schemas = doc["components"]["schemas"]
    found = [f"{name}{where[1:]}" for name in sorted(reachable(doc, bodies))
             for where, node in walk(schemas[name], "#") if isinstance(node, dict) and "default" in node
             and "/properties/" in where]
    assert not found, f"defaults in request bodies: {found}"
