"""Property (SPEC §7): any JSON a client can send to any write endpoint, as any kind of member,
leaves the organization's chain verifiable on the database under test, never answers 500, and
never records more than the bound. Bounded in time: a few seconds per pass."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.chain import verify_chain
from audit.integrity import canonical_json
from audit.models import AuditEvent
from audit.services import MAX_DENIED_BYTES
from orgs import services as org_services
from tests.factories import actor_for, add_member, make_org
from tests.residency.helpers import workspace

FIELDS = ["name", "data_residency", "us_only", "workspace_geo", "allowed_inference_geos", "default_inference_geo",
          "role", "email", "permissions", "user_id", "records", "audit_log", "privacy"]
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e16, 1e-7, 2**53])
           | st.text(max_size=20) | st.sampled_from(["us", "global", "unrestricted", "\U0001F600", "\x00", "a" * 300]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(FIELDS), inner, max_size=4),
                           max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=4) | json_values
ROLES = ("owner", "privacy_view", "privacy_none", "user")
ENDPOINTS = ["workspaces", "workspace", "archive", "inference_residency", "roles", "users", "user", "api_keys",
             "revoke", "usage_records"]


def body_text(body):
    """What a client would put on the wire: standard JSON text (NaN/Infinity and lone
    surrogates included, as Python writes them; the edge must refuse those)."""
    return json.dumps(body)


@pytest.fixture
def world(org, owner, member_factory, key_for, api):
    ws = workspace(org, "Prod")
    spare_ws = workspace(org, "Spare")
    target = add_member(org, "user")
    spare_key, _ = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="spare")
    clients = {role: api(key_for(owner if role == "owner" else member_factory(org, role))) for role in ROLES}
    urls = {
        "workspaces": "/v1/organizations/workspaces",
        "workspace": f"/v1/organizations/workspaces/{ws.pk}",
        "archive": f"/v1/organizations/workspaces/{spare_ws.pk}/archive",
        "inference_residency": "/v1/organizations/inference_residency",
        "roles": "/v1/organizations/roles",
        "users": "/v1/organizations/users",
        "user": f"/v1/organizations/users/{target.user_id}",
        "api_keys": "/v1/organizations/api_keys",
        "revoke": f"/v1/organizations/api_keys/{spare_key.pk}/revoke",
        "usage_records": "/v1/organizations/usage_records",
    }
    bystander = make_org(name="Bystander")  # another organization's chain must stay intact too
    return org, clients, urls, bystander


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(endpoint=st.sampled_from(ENDPOINTS), role=st.sampled_from(ROLES), body=bodies)
def test_any_json_to_any_write_endpoint_leaves_the_chain_verifiable(world, endpoint, role, body):
    org, clients, urls, bystander = world
    response = clients[role].post(urls[endpoint], data=body_text(body), content_type="application/json")
    assert response.status_code < 500, (endpoint, role, body, response.content[:300])
    report = verify_chain(org)
    assert report.ok, report.lines()
    assert verify_chain(bystander).ok
    for event in AuditEvent.objects.filter(organization=org, outcome="denied"):
        assert len(canonical_json(event.before).encode()) + len(canonical_json(event.after).encode()) <= MAX_DENIED_BYTES
