"""Property (SPEC §7): any JSON a client can send to any write endpoint, as any kind of member,
leaves the organization's chain verifiable on the database under test, never answers 500, and
never records more than the bound. Every POST operation of the OpenAPI document is in the table
(a test holds them equal), each with 16 examples of its own. Bounded in time: about 15 seconds
per pass."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.chain import verify_chain
from audit.integrity import canonical_json
from audit.models import AuditEvent
from audit.services import MAX_DENIED_BYTES
from orgs import services as org_services
from residency import services as residency_services
from tests.factories import actor_for, add_member, make_org
from tests.openapi import operations, served_document
from tests.residency.helpers import workspace

FIELDS = ["name", "data_residency", "us_only", "workspace_geo", "allowed_inference_geos", "default_inference_geo",
          "role", "email", "permissions", "user_id", "records", "audit_log", "privacy",
          # the policy, key update, impact and decision bodies
          "status", "apply_to_workspaces", "change", "workspace", "organization", "days", "requests", "custom_id",
          "params", "workspace_id", "organization_id", "surface", "model", "inference_geo", "endpoint"]
# stand-ins for this world's real ids (a body naming a real workspace or organization goes deeper)
WS_ID, ORG_ID, USER_ID = "@workspace_id@", "@organization_id@", "@user_id@"
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e16, 1e-7, 2**53])
           | st.text(max_size=20) | st.sampled_from(["us", "global", "unrestricted", "\U0001F600", "\x00", "a" * 300])
           | st.sampled_from([WS_ID, ORG_ID, USER_ID, "apps", "api", "messages", "claude-opus-4-6", "inactive", "active"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(FIELDS), inner, max_size=4),
                           max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=4) | json_values
ROLES = ("owner", "privacy_view", "privacy_none", "user")
# every POST operation: name -> its path in the OpenAPI document
ENDPOINTS = {
    "workspaces": "/v1/organizations/workspaces",
    "workspace": "/v1/organizations/workspaces/{workspace_id}",
    "archive": "/v1/organizations/workspaces/{workspace_id}/archive",
    "inference_residency": "/v1/organizations/inference_residency",
    "roles": "/v1/organizations/roles",
    "users": "/v1/organizations/users",
    "user": "/v1/organizations/users/{user_id}",
    "api_keys": "/v1/organizations/api_keys",
    "key_update": "/v1/organizations/api_keys/{key_id}",
    "revoke": "/v1/organizations/api_keys/{key_id}/revoke",
    "usage_records": "/v1/organizations/usage_records",
    "policy": "/v1/organizations/data_residency_policy",
    "impact": "/v1/organizations/residency_impact",
    "decisions": "/v1/residency/decisions",
    "decisions_batch": "/v1/residency/decisions/batch",
    "approval_settings": "/v1/organizations/approval_settings",
    "approve": "/v1/organizations/change_requests/{change_request_id}/approve",
    "reject": "/v1/organizations/change_requests/{change_request_id}/reject",
    "withdraw": "/v1/organizations/change_requests/{change_request_id}/withdraw",
}


RESIDENCY = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
DECISION = {"workspace_id": WS_ID, "model": "claude-opus-4-6", "inference_geo": "us", "endpoint": "messages"}
# a valid body per endpoint: the examples also send these with any part replaced by any JSON, so
# that the requests get past the first check and the writes that do happen are on the chain too
VALID = {
    "workspaces": {"name": "W", "data_residency": {"workspace_geo": "us", **RESIDENCY}},
    "workspace": {"name": "W2", "data_residency": RESIDENCY},
    "archive": {},
    "inference_residency": {"us_only": True},
    "roles": {"name": "Ops", "permissions": {"billing": "view"}},
    "users": {"email": "new@acme.test", "role": "user"},
    "user": {"role": "admin"},
    "api_keys": {"name": "k", "user_id": USER_ID},
    "key_update": {"name": "k2", "status": "inactive"},
    "revoke": {},
    "usage_records": {"records": [{"id": "r1", "workspace_id": WS_ID, "model": "claude-opus-4-6", "inference_geo": "us",
                                   "service_tier": "standard", "occurred_at": "2026-03-01T10:15:00Z",
                                   "uncached_input_tokens": 1000}]},
    "policy": {**RESIDENCY, "apply_to_workspaces": True},
    "impact": {"change": {"workspace": {"id": WS_ID, "data_residency": RESIDENCY}}, "days": 30},
    "decisions": DECISION,
    "decisions_batch": {"requests": [{"custom_id": "a", "params": DECISION}]},
    "approval_settings": {"loosening_requires_approval": False},
    "approve": {},
    "reject": {"reason": "no"},
    "withdraw": {},
}


def near(value):
    """`value`, with any part of it (or all of it) possibly replaced by any JSON."""
    if isinstance(value, dict):
        exact = st.fixed_dictionaries({key: near(item) for key, item in value.items()})
    elif isinstance(value, list):
        exact = st.tuples(*map(near, value)).map(list)
    else:
        exact = st.just(value)
    return exact | json_values


def body_text(body, ids):
    """What a client would put on the wire: standard JSON text (NaN/Infinity and lone
    surrogates included, as Python writes them; the edge must refuse those), with this world's
    real ids for their stand-ins."""
    text = json.dumps(body)
    for stand_in, value in ids.items():
        text = text.replace(json.dumps(stand_in), json.dumps(value))
    return text


@pytest.mark.django_db
def test_every_post_operation_of_the_openapi_document_is_in_the_table():
    posts = {path for method, path in operations(served_document()).values() if method == "POST"}
    assert len(posts) == 19 and set(ENDPOINTS.values()) == posts


@pytest.fixture
def world(org, owner, member_factory, key_for, api):
    ws = workspace(org, "Prod")
    spare_ws = workspace(org, "Spare")
    target = add_member(org, "user")
    spare_key, _ = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="spare")
    # a pending change request (approval on; another manager loosened a workspace) to approve, reject, withdraw
    residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                             loosening_requires_approval=True)
    held = workspace(org, "Held", allowed_inference_geos=["us"], default_inference_geo="us")
    pending = residency_services.workspace_update(actor=actor_for(member_factory(org, "privacy_manage").user),
                                                  workspace=held, data_residency={"allowed_inference_geos": "unrestricted"})
    assert pending.pk.startswith("chgreq_"), pending
    clients = {role: api(key_for(owner if role == "owner" else member_factory(org, role))) for role in ROLES}
    urls = {name: path.format(workspace_id=spare_ws.pk if name == "archive" else ws.pk, user_id=target.user_id,
                              key_id=spare_key.pk, change_request_id=pending.pk) for name, path in ENDPOINTS.items()}
    bystander = make_org(name="Bystander")  # another organization's chain must stay intact too
    return org, clients, urls, bystander, {WS_ID: ws.pk, ORG_ID: org.pk, USER_ID: target.user_id}


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@settings(max_examples=16, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(role=st.sampled_from(ROLES), data=st.data())
def test_any_json_to_any_write_endpoint_leaves_the_chain_verifiable(world, endpoint, role, data):
    org, clients, urls, bystander, ids = world
    body = data.draw(near(VALID[endpoint]) | bodies, label="body")
    response = clients[role].post(urls[endpoint], data=body_text(body, ids), content_type="application/json")
    assert response.status_code < 500, (endpoint, role, body, response.content[:300])
    report = verify_chain(org)
    assert report.ok, report.lines()
    assert verify_chain(bystander).ok
    for event in AuditEvent.objects.filter(organization=org, outcome="denied"):
        assert len(canonical_json(event.before).encode()) + len(canonical_json(event.after).encode()) <= MAX_DENIED_BYTES
