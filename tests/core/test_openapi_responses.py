"""Real responses agree with the OpenAPI document: every answer of every REST operation below —
successes, 400s, 401s, 403s, 404s, 413s, 415s — has a documented status, content type, headers
and body shape. (Schemathesis' response checks do this by generating requests; this walks the
flows a tool author runs, with each role that gets a different answer.)"""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from residency.services import MAX_RECORDS
from tests.factories import add_member, api_key_for, make_org, primary_owner
from tests.openapi import Document
from tests.residency.helpers import member_with, usage_row, workspace

pytestmark = pytest.mark.django_db

ORGS = "/v1/organizations"


@pytest.fixture(scope="module")
def document():
    return Document(json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True))))


class Checked:
    """An API client whose every response is checked against the document."""

    def __init__(self, client, document, problems):
        self.client, self.document, self.problems = client, document, problems
        self.seen = set()

    def call(self, method, template, path=None, *, query=None, body=None, raw=None, content_type="application/json",
             expect=None):
        path = path or template
        if method == "GET":
            response = self.client.get(path, query or {})
        else:
            data = raw if raw is not None else (json.dumps(body) if body is not None else "")
            response = self.client.generic(method, path, data, content_type=content_type)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.content[:300])
        self.problems += self.document.check_response(method, template, response)
        self.seen.add((method, template, response.status_code))
        return response


@pytest.fixture
def problems():
    return []


@pytest.fixture
def as_(api, document, problems):
    def make(membership_or_secret):
        secret = membership_or_secret if isinstance(membership_or_secret, str) or membership_or_secret is None \
            else api_key_for(membership_or_secret)
        return Checked(api(secret), document, problems)

    return make


def test_every_operation_answers_as_documented(org, owner, as_, problems):
    owner_api = as_(owner)
    user = add_member(org, "user")
    user_api = as_(user)
    viewer_api = as_(add_member(org, "privacy_view"))
    analytics_api = as_(member_with(org, "analytics", {"analytics": "view"}))
    team_api = as_(primary_owner(make_org(plan="team", name="Small")))
    nobody = as_(None)

    # organization
    owner_api.call("GET", f"{ORGS}/me", expect=200)
    nobody.call("GET", f"{ORGS}/me", expect=401)
    as_("rc-api-revoked-or-made-up").call("GET", f"{ORGS}/me", expect=401)
    owner_api.call("GET", f"{ORGS}/me", query={"x": "a\x00b"}, expect=400)

    # inference residency
    url = f"{ORGS}/inference_residency"
    owner_api.call("GET", url, expect=200)
    owner_api.call("POST", url, body={"us_only": True}, expect=200)
    owner_api.call("POST", url, body={"us_only": "yes"}, expect=400)
    owner_api.call("POST", url, raw="us_only=true", content_type="application/x-www-form-urlencoded", expect=415)
    viewer_api.call("POST", url, body={"us_only": False}, expect=403)
    user_api.call("GET", url, expect=404)
    team_api.call("GET", url, expect=404)

    # users
    url = f"{ORGS}/users"
    owner_api.call("GET", url, query={"limit": 2}, expect=200)
    owner_api.call("GET", url, query={"email": "NEW@acme.test", "roles[]": ["user", "owner"]}, expect=200)
    owner_api.call("GET", url, query={"roles[]": "developer"}, expect=400)
    owner_api.call("GET", url, query={"limit": 0}, expect=400)
    user_api.call("GET", url, expect=403)
    added = owner_api.call("POST", url, body={"email": "new@acme.test", "role": "user"}, expect=200).json()
    owner_api.call("POST", url, body={"email": "x", "role": "user"}, expect=400)
    user_api.call("POST", url, body={"email": "other@acme.test", "role": "user"}, expect=403)
    detail = f"{url}/{{user_id}}"
    owner_api.call("GET", detail, f"{url}/{added['id']}", expect=200)
    owner_api.call("GET", detail, f"{url}/user_nobody", expect=404)
    owner_api.call("POST", detail, f"{url}/{added['id']}", body={"role": "admin"}, expect=200)
    owner_api.call("POST", detail, f"{url}/{added['id']}", body={}, expect=400)

    # roles
    url = f"{ORGS}/roles"
    owner_api.call("GET", url, expect=200)
    user_api.call("GET", url, expect=403)
    owner_api.call("POST", url, body={"name": "Ops", "permissions": {"billing": "view"}}, expect=200)
    owner_api.call("POST", url, body={"name": 0}, expect=400)
    team_api.call("POST", url, body={"name": "Ops"}, expect=403)

    # API keys
    url = f"{ORGS}/api_keys"
    owner_api.call("GET", url, expect=200)
    user_api.call("GET", url, expect=200)
    key = owner_api.call("POST", url, body={"name": "tool"}, expect=200).json()
    owner_api.call("POST", url, body={"name": 0}, expect=400)
    owner_api.call("POST", url, body={"name": "for the boss", "user_id": primary_owner(org).user_id}, expect=200)
    user_api.call("POST", url, body={"name": "x", "user_id": owner.user_id}, expect=403)
    owner_api.call("GET", url, query={"status": "inactive", "created_by_user_id": owner.user_id}, expect=200)
    owner_api.call("GET", url, query={"status": "revoked"}, expect=400)
    detail = f"{url}/{{key_id}}"
    owner_api.call("GET", detail, f"{url}/{key['id']}", expect=200)
    user_api.call("GET", detail, f"{url}/{key['id']}", expect=404)
    owner_api.call("POST", detail, f"{url}/{key['id']}", body={"name": "tool 2", "status": "inactive"}, expect=200)
    owner_api.call("POST", detail, f"{url}/{key['id']}", body={"status": "expired"}, expect=400)
    spare = owner_api.call("POST", url, body={"name": "spare"}, expect=200).json()
    manager_api = as_(add_member(org, "identity_manage"))
    manager_api.call("POST", detail, f"{url}/{spare['id']}", body={"status": "inactive"}, expect=200)
    manager_api.call("POST", detail, f"{url}/{spare['id']}", body={"status": "active"}, expect=403)
    revoke = f"{url}/{{key_id}}/revoke"
    owner_api.call("POST", revoke, f"{url}/{key['id']}/revoke", expect=200)
    user_api.call("POST", revoke, f"{url}/{key['id']}/revoke", expect=404)

    # workspaces
    url = f"{ORGS}/workspaces"
    ws = owner_api.call("POST", url, body={"name": "Prod", "data_residency": {"allowed_inference_geos": ["us"],
                                                                             "default_inference_geo": "us"},
                                           "display_color": "#112233", "tags": {"team": "a"}}, expect=200).json()
    owner_api.call("POST", url, body={"name": "Nulls", "data_residency": None, "tags": None}, expect=200)
    owner_api.call("POST", url, body={"name": "Bad", "tags": {"anthropic": "x"}}, expect=400)
    owner_api.call("POST", url, body={"name": "Lab"}, expect=200)
    owner_api.call("POST", url, body={"name": ""}, expect=400)
    viewer_api.call("POST", url, body={"name": "Mine"}, expect=403)
    owner_api.call("GET", url, query={"limit": 1}, expect=200)
    owner_api.call("GET", url, query={"ids[]": [ws["id"]], "include_default": "true"}, expect=200)
    owner_api.call("GET", url, query={"ids[]": [f"wrkspc_{i}" for i in range(101)]}, expect=400)
    owner_api.call("GET", url, query={"include_archived": "maybe"}, expect=400)
    user_api.call("GET", url, expect=200)
    detail = f"{url}/{{workspace_id}}"
    owner_api.call("GET", detail, f"{url}/{ws['id']}", expect=200)
    user_api.call("GET", detail, f"{url}/{ws['id']}", expect=404)
    owner_api.call("POST", detail, f"{url}/{ws['id']}", body={"data_residency": {"allowed_inference_geos":
                                                                                 "unrestricted"}}, expect=200)
    owner_api.call("POST", detail, f"{url}/{ws['id']}", body={"tags": {"team": None, "env": "prod"}}, expect=200)
    owner_api.call("POST", detail, f"{url}/{ws['id']}", body={"data_residency": {"workspace_geo": "us"}}, expect=400)
    viewer_api.call("POST", detail, f"{url}/{ws['id']}", body={"name": "Renamed"}, expect=403)
    archive = f"{url}/{{workspace_id}}/archive"
    viewer_api.call("POST", archive, f"{url}/{ws['id']}/archive", expect=403)
    owner_api.call("POST", archive, f"{url}/{ws['id']}/archive", expect=200)
    owner_api.call("POST", archive, f"{url}/wrkspc_nope/archive", expect=404)

    # the organization's data residency policy
    url = f"{ORGS}/data_residency_policy"
    owner_api.call("GET", url, expect=200)
    viewer_api.call("GET", url, expect=200)
    user_api.call("GET", url, expect=404)
    owner_api.call("POST", url, body={"allowed_inference_geos": ["us"], "default_inference_geo": "us"}, expect=200)
    owner_api.call("POST", url, body={"allowed_inference_geos": ["global"]}, expect=400)
    owner_api.call("POST", url, raw="apply_to_workspaces=true", content_type="application/x-www-form-urlencoded",
                   expect=415)
    viewer_api.call("POST", url, body={"apply_to_workspaces": True}, expect=403)
    user_api.call("POST", url, body={"apply_to_workspaces": True}, expect=404)
    team_api.call("POST", url, body={"apply_to_workspaces": True}, expect=200)
    owner_api.call("POST", url, body={"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"},
                   expect=200)

    # usage
    prod = workspace(org, "Usage")
    url = f"{ORGS}/usage_records"
    owner_api.call("POST", url, body={"records": [usage_row(prod, 1), usage_row(prod, 2, inference_geo="global")]},
                   expect=200)
    owner_api.call("POST", url, body={"records": [usage_row(prod, 3, model="nope")]}, expect=400)
    owner_api.call("POST", url, body={"records": [usage_row(prod, i) for i in range(MAX_RECORDS + 1)]}, expect=413)
    user_api.call("POST", url, body={"records": [usage_row(prod, 4)]}, expect=404)
    analytics_api.call("POST", url, body={"records": [usage_row(prod, 5)]}, expect=403)
    day = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}
    url = f"{ORGS}/usage_report/messages"
    owner_api.call("GET", url, query={**day, "group_by[]": ["inference_geo", "model"]}, expect=200)
    owner_api.call("GET", url, query={**day, "limit": 1}, expect=200)
    owner_api.call("GET", url, query={"starting_at": "yesterday"}, expect=400)
    user_api.call("GET", url, query=day, expect=404)
    url = f"{ORGS}/cost_report"
    owner_api.call("GET", url, query={**day, "group_by[]": ["inference_geo", "workspace_id", "model"]}, expect=200)
    analytics_api.call("GET", url, query=day, expect=403)
    user_api.call("GET", url, query=day, expect=404)
    owner_api.call("GET", url, query={**day, "bucket_width": "1h"}, expect=400)
    for kind in ("usage", "cost"):
        url = f"{ORGS}/analytics/{kind}"
        page = owner_api.call("GET", url, query={**day, "group_by[]": ["inference_geo", "product"], "limit": 1},
                              expect=200).json()
        owner_api.call("GET", url, query={**day, "group_by[]": ["inference_geo", "product"], "limit": 1,
                                          "page": page["next_page"]}, expect=200)
        owner_api.call("GET", url, query={**day, "time_bucket_width": "1h", "order_by": "time"}, expect=200)
        owner_api.call("GET", url, query={**day, "actor_ids[]": "user_x"}, expect=400)
        user_api.call("GET", url, query=day, expect=404)
    analytics_api.call("GET", f"{ORGS}/analytics/usage", query=day, expect=200)
    analytics_api.call("GET", f"{ORGS}/analytics/cost", query=day, expect=403)

    # the cost of a change
    url = f"{ORGS}/residency_impact"
    owner_api.call("POST", url, body={"change": {"us_only": True}}, expect=200)
    owner_api.call("POST", url, body={"change": {"workspace": {"id": prod.pk, "data_residency": {
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"}}}, "days": 90}, expect=200)
    owner_api.call("POST", url, body={"change": {}}, expect=400)
    owner_api.call("POST", f"{ORGS}/data_residency_policy", body={"allowed_inference_geos": ["us"],
                                                                  "default_inference_geo": "us"}, expect=200)
    outside = owner_api.call("POST", url, body={"change": {"workspace": {"id": prod.pk, "data_residency": {
        "allowed_inference_geos": ["global", "us"]}}}}, expect=400)
    assert outside.json()["error"]["details"] == {"error_code": "workspace_policy_violation",
                                                  "field": "allowed_inference_geos"}
    owner_api.call("POST", url, raw="days=3", content_type="application/x-www-form-urlencoded", expect=415)
    viewer_api.call("POST", url, body={"change": {"us_only": True}}, expect=404)
    team_api.call("POST", url, body={"change": {"us_only": True}}, expect=404)
    owner_api.call("POST", f"{ORGS}/data_residency_policy", body={"allowed_inference_geos": "unrestricted",
                                                                  "default_inference_geo": "global"}, expect=200)

    # audit events
    url = f"{ORGS}/audit_events"
    page = owner_api.call("GET", url, query={"limit": 3}, expect=200).json()
    owner_api.call("GET", url, query={"limit": 3, "after_id": page["last_id"]}, expect=200)
    owner_api.call("GET", url, query={"format": "csv"}, expect=200)
    owner_api.call("GET", url, query={"after_id": "not-an-id"}, expect=400)
    viewer_api.call("GET", url, expect=200)
    user_api.call("GET", url, expect=404)

    # approval of loosening changes (SPEC §8): the setting, a 202, the change requests, a 409
    url = f"{ORGS}/approval_settings"
    owner_api.call("GET", url, expect=200)
    user_api.call("GET", url, expect=404)
    viewer_api.call("POST", url, body={"loosening_requires_approval": True}, expect=403)
    owner_api.call("POST", url, body={"loosening_requires_approval": 1}, expect=400)
    owner_api.call("POST", url, body={"loosening_requires_approval": True}, expect=200)
    second = as_(add_member(org, "owner"))
    held = owner_api.call("POST", f"{ORGS}/inference_residency", body={"us_only": False}, expect=202).json()
    twin = owner_api.call("POST", f"{ORGS}/inference_residency", body={"us_only": False}, expect=202).json()
    owner_api.call("POST", f"{ORGS}/workspaces/{{workspace_id}}", f"{ORGS}/workspaces/{prod.pk}",
                   body={"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}},
                   expect=200)
    owner_api.call("POST", f"{ORGS}/workspaces/{{workspace_id}}", f"{ORGS}/workspaces/{prod.pk}",
                   body={"data_residency": {"allowed_inference_geos": "unrestricted"}}, expect=202)
    policy_url = f"{ORGS}/data_residency_policy"
    owner_api.call("POST", policy_url, body={"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
                   expect=200)  # tightening applies at once
    owner_api.call("POST", policy_url, body={"allowed_inference_geos": "unrestricted"}, expect=202)
    off = owner_api.call("POST", url, body={"loosening_requires_approval": False}, expect=202).json()
    url = f"{ORGS}/change_requests"
    owner_api.call("GET", url, query={"status": "pending", "limit": 2}, expect=200)
    owner_api.call("GET", url, query={"status": "nope"}, expect=400)
    user_api.call("GET", url, expect=200)
    one = f"{url}/{{change_request_id}}"
    owner_api.call("GET", one, f"{url}/{held['id']}", expect=200)
    user_api.call("GET", one, f"{url}/{held['id']}", expect=404)
    for action in ("approve", "reject"):
        owner_api.call("POST", f"{one}/{action}", f"{url}/{held['id']}/{action}", expect=403)  # the requester
        user_api.call("POST", f"{one}/{action}", f"{url}/{held['id']}/{action}", expect=404)
    second.call("POST", f"{one}/withdraw", f"{url}/{held['id']}/withdraw", expect=403)
    second.call("POST", f"{one}/approve", f"{url}/{held['id']}/approve", expect=200)
    second.call("POST", f"{one}/approve", f"{url}/{twin['id']}/approve", expect=409)
    second.call("POST", f"{one}/reject", f"{url}/{twin['id']}/reject", expect=409)
    owner_api.call("POST", f"{one}/withdraw", f"{url}/{off['id']}/withdraw", expect=200)
    owner_api.call("POST", f"{one}/withdraw", f"{url}/{off['id']}/withdraw", expect=409)

    assert not problems, "\n".join(problems)
    answered = {(method, template) for method, template, _ in owner_api.seen | user_api.seen | second.seen}
    assert len(answered) == 35  # every REST operation but the decisions'
