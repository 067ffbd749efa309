"""The official SDK's own signatures and types against the OpenAPI document (SPEC §9), without a
server: every parameter and body field the SDK can send to an operation this product overlaps
is documented, or named as one this product has no data for (a 400 that says so); every field
the SDK's response types require is a required property of the response; the SDK's value sets
(key statuses, products, geos) are ours. A new SDK release that adds a parameter fails here, not
silently at a tool author's."""

import inspect
import json
import typing

import pytest
from anthropic.resources.beta.organization.analytics.cost import Cost
from anthropic.resources.beta.organization.analytics.usage import Usage
from anthropic.resources.organization.api_keys import APIKeys
from anthropic.resources.organization.users import Users
from anthropic.resources.organization.workspaces.workspaces import Workspaces
from anthropic.types import OrganizationInfo
from anthropic.types.beta.organization import BetaAnalyticsUsageCostProductFilter
from anthropic.types.beta.organization.analytics import (
    BetaAnalyticsCostItem,
    BetaAnalyticsCostMetrics,
    BetaAnalyticsCostOrderBy,
    BetaAnalyticsUsageItem,
    BetaAnalyticsUsageMetrics,
    BetaAnalyticsUsageOrderBy,
)
from anthropic.types.organization import APIKey, APIKeyUpdateParams, DataResidency, OrganizationUser, Workspace
from drf_spectacular.generators import SchemaGenerator

from residency.api.analytics import UNAVAILABLE_OPTIONS
from residency.api.workspaces import ABSENT_FEATURES

SDK_ONLY = {"self", "extra_headers", "extra_query", "extra_body", "timeout", "betas"}
ORGS = "/v1/organizations"


@pytest.fixture(scope="module")
def doc():
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


def sdk_params(method):
    return set(inspect.signature(method).parameters) - SDK_ONLY


def documented_query(doc, path, method="get"):
    return {p["name"].removesuffix("[]") for p in doc["paths"][path][method]["parameters"] if p["in"] == "query"}


def component(doc, schema):
    while "$ref" in schema or "allOf" in schema:
        schema = schema["allOf"][0] if "allOf" in schema else schema
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_schema(doc, path, method="post"):
    return component(doc, doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])


def response_schema(doc, path, method="get"):
    return component(doc, doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("method,path,unavailable", [
    (Users.list, f"{ORGS}/users", set()),
    (Workspaces.list, f"{ORGS}/workspaces", set()),
    (APIKeys.list, f"{ORGS}/api_keys", set()),
    (Usage.list, f"{ORGS}/analytics/usage", set(UNAVAILABLE_OPTIONS)),
    (Cost.list, f"{ORGS}/analytics/cost", set(UNAVAILABLE_OPTIONS)),
])
def test_every_query_parameter_the_sdk_sends_is_documented_or_refused_by_name(doc, method, path, unavailable):
    sent = sdk_params(method)
    documented = documented_query(doc, path)
    assert sent - documented == unavailable, sent - documented
    assert not documented & unavailable


@pytest.mark.parametrize("method,path", [
    (Workspaces.create, f"{ORGS}/workspaces"),
    (Workspaces.update, f"{ORGS}/workspaces/{{workspace_id}}"),
    (APIKeys.update, f"{ORGS}/api_keys/{{key_id}}"),
    (Users.update, f"{ORGS}/users/{{user_id}}"),
])
def test_every_body_field_the_sdk_sends_is_documented_or_refused_by_name(doc, method, path):
    sent = sdk_params(method) - {"workspace_id", "api_key_id", "user_id"}
    properties = set(body_schema(doc, path)["properties"])
    assert sent - properties <= set(ABSENT_FEATURES), sent - properties


def required(model):
    return {name for name, field in model.model_fields.items() if field.is_required()}


def schema_at(doc, schema, *steps):
    for step in steps:
        schema = component(doc, schema["properties"][step])
        if schema.get("type") == "array":
            schema = component(doc, schema["items"])
    return schema


@pytest.mark.parametrize("model,path,steps", [
    (OrganizationInfo, f"{ORGS}/me", ()),
    (OrganizationUser, f"{ORGS}/users/{{user_id}}", ()),
    (Workspace, f"{ORGS}/workspaces/{{workspace_id}}", ()),
    (DataResidency, f"{ORGS}/workspaces/{{workspace_id}}", ("data_residency",)),
    (APIKey, f"{ORGS}/api_keys/{{key_id}}", ()),
    (BetaAnalyticsUsageItem, f"{ORGS}/analytics/usage", ("data",)),
    (BetaAnalyticsUsageMetrics, f"{ORGS}/analytics/usage", ("data", "usage")),
    (BetaAnalyticsCostItem, f"{ORGS}/analytics/cost", ("data",)),
    (BetaAnalyticsCostMetrics, f"{ORGS}/analytics/cost", ("data", "cost")),
])
def test_every_field_the_sdk_requires_is_always_answered(doc, model, path, steps):
    schema = schema_at(doc, response_schema(doc, path), *steps)
    assert required(model) <= set(schema["required"]), required(model) - set(schema["required"])
    optional = set(model.model_fields) - required(model)
    assert optional <= set(schema["properties"]), optional - set(schema["properties"])


def literal(annotation):
    values = set()
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            values |= set(typing.get_args(arg))
        elif isinstance(arg, str):
            values.add(arg)
    return values


def enum(doc, schema):
    return set(component(doc, schema).get("enum", []))


def test_value_sets_match_the_sdk(doc):
    key = response_schema(doc, f"{ORGS}/api_keys/{{key_id}}")
    assert enum(doc, key["properties"]["status"]) == literal(APIKey.model_fields["status"].annotation)
    change = body_schema(doc, f"{ORGS}/api_keys/{{key_id}}")
    assert enum(doc, change["properties"]["status"]) == literal(typing.get_type_hints(APIKeyUpdateParams)["status"])
    # the products this product reports are among those the SDK filters by
    usage = {p["name"]: p for p in doc["paths"][f"{ORGS}/analytics/usage"]["get"]["parameters"]}
    assert set(usage["products[]"]["schema"]["items"]["enum"]) <= literal(BetaAnalyticsUsageCostProductFilter)
    assert set(usage["group_by[]"]["schema"]["items"]["enum"]) == {"workspace_id", "service_tier", "inference_geo",
                                                                   "model", "product"}
    assert set(usage["time_bucket_width"]["schema"]["enum"]) == {"1h", "1d"}
    assert set(usage["order_by"]["schema"]["enum"]) == literal(BetaAnalyticsUsageOrderBy)
    cost = {p["name"]: p for p in doc["paths"][f"{ORGS}/analytics/cost"]["get"]["parameters"]}
    assert set(cost["order_by"]["schema"]["enum"]) == literal(BetaAnalyticsCostOrderBy)
