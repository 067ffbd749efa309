"""GET/POST /v1/organizations/data_residency_policy and POST /v1/organizations/residency_impact
(SPEC §5, contract): role matrices with the audit rows, the order of checks, apply_to_workspaces,
locks, and impact figures checked by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs import services as org_services
from orgs.models import ApiKey, Workspace
from residency import services
from residency.selectors import policy_of
from tests.factories import SYSTEM, actor_for, add_member, api_key_for, make_org, primary_owner
from tests.orgs.matrix import api_client, build_people, expect
from tests.residency.helpers import ingest_days_ago, member_with, priced_usage, workspace

pytestmark = pytest.mark.django_db

URL = "/v1/organizations/data_residency_policy"
IMPACT = "/v1/organizations/residency_impact"
US = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
VIOLATION = {"error_code": "workspace_policy_violation", "field": "allowed_inference_geos"}


@pytest.fixture
def people(org):
    return build_people(org)


def policy_body(allowed="unrestricted", default="global", *, locked=False, can_manage=True, nonconforming=()):
    return {"type": "data_residency_policy", "allowed_inference_geos": allowed, "default_inference_geo": default,
            "locked": locked, "lock_reason": "contract" if locked else None, "can_manage": can_manage,
            "nonconforming_workspace_ids": list(nonconforming)}


def events(org, action):
    return list(AuditEvent.objects.filter(organization=org, action=action).order_by("seq"))


def key_of(org, membership):
    return ApiKey.objects.get(membership__organization=org, membership__user_id=membership.user_id)


# --- GET -----------------------------------------------------------------------------------------

GET_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=200, other_org=200,
                    anonymous=401)


@pytest.mark.parametrize("who,status", GET_STATUS)
def test_get_role_matrix(people, org, who, status):
    open_ws = workspace(org, "Open")
    services.data_residency_policy_set(actor=actor_for(people["primary_owner"].user), organization=org, values=US)
    response = api_client(people, who).get(URL)
    assert response.status_code == status
    if who == "other_org":  # their own organization's default policy, nothing of Acme's
        assert response.json() == policy_body()
    elif status == 200:
        assert response.json() == policy_body(["us"], "us", can_manage=who != "privacy_view",
                                              nonconforming=[open_ws.pk])
    elif status == 404:
        assert response.json()["error"] == {"type": "not_found_error", "message": "Not found.", "details": None}
    else:
        assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("plan", ["team", "enterprise_seat"])
def test_every_plan_has_the_policy(plan, api):
    other = make_org(plan=plan)
    client = api(api_key_for(primary_owner(other)))
    assert client.get(URL).json() == policy_body()
    assert client.post(URL, US, format="json").json() == policy_body(["us"], "us")


# --- POST ----------------------------------------------------------------------------------------

POST_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=403, other_org=200,
                     anonymous=401)


@pytest.mark.parametrize("who,status", POST_STATUS)
def test_post_role_matrix_and_audit(people, org, who, status):
    response = api_client(people, who).post(URL, US, format="json")
    assert response.status_code == status
    changed = who in ("primary_owner", "owner", "privacy_manage")
    updates = events(org, "data_residency_policy.updated")
    denials = events(org, "data_residency_policy.change_denied")
    if changed:
        assert response.json() == policy_body(["us"], "us")
        (event,) = updates
        key = key_of(org, people[who])
        assert (event.actor_type, event.actor_id, event.actor_user_id, event.source) == (
            "api_key", key.pk, people[who].user_id, "rest")
        assert event.before == {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}
        assert event.after == {**US, "apply_to_workspaces": False}
        assert event.request_id == response["request-id"]
        assert event.target_type == "data_residency_policy" and event.target_id == org.pk
    else:
        assert not updates and policy_of(org) is None
    if who in ("privacy_view", "admin", "user", "privacy_none", "auditor"):
        (denied,) = denials
        assert (denied.outcome, denied.actor_type, denied.actor_user_id) == (
            "denied", "api_key", people[who].user_id)
        if who == "privacy_view":  # sees it: what was asked for is recorded
            assert denied.after == {**US, "apply_to_workspaces": False, "denied": "permission"}
            assert "Privacy: Can manage" in response.json()["error"]["message"]
        else:  # does not see it: a 404, recorded without the input
            assert denied.after == {"denied": "permission"}
            assert response.json()["error"]["message"] == "Not found."
    else:
        assert not denials
    if who == "other_org":
        assert policy_of(people["other_org"].organization).allowed_inference_geos == ["us"]
        assert not AuditEvent.objects.filter(organization=org, actor_user_id=people[who].user_id).exists()
    assert verify_chain(org).ok


def test_a_key_minted_for_a_viewer_reads_but_cannot_change(org, owner, api):
    viewer = add_member(org, "privacy_view")
    _, secret = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="for the viewer",
                                            membership=viewer)
    client = api(secret)
    assert client.get(URL).status_code == 200
    response = client.post(URL, US, format="json")
    assert response.status_code == 403
    (denied,) = events(org, "data_residency_policy.change_denied")
    assert (denied.actor_type, denied.actor_user_id) == ("api_key", viewer.user_id)
    assert policy_of(org) is None


@pytest.mark.parametrize("body", [
    {"allowed_inference_geos": []},
    {"allowed_inference_geos": ["us", "us"]},
    {"allowed_inference_geos": ["eu"]},
    {"allowed_inference_geos": ["us"]},  # the current default, global, would be outside
    {"default_inference_geo": "mars"},
    {"allowed_inference_geos": "everywhere"},
    {"apply_to_workspaces": "yes"},
    {"allowed": ["us"]},
])
def test_invalid_input_is_a_400_naming_the_field_and_records_nothing(org, owner, api, body):
    client = api(api_key_for(owner))
    seq = AuditEvent.objects.filter(organization=org).count()
    response = client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["details"] is None
    assert next(iter(body)) in error["message"] or "default_inference_geo" in error["message"]
    assert AuditEvent.objects.filter(organization=org).count() == seq and policy_of(org) is None


def test_invalid_input_from_someone_who_cannot_see_it_is_a_404_first_and_audited(org, api):
    hidden = add_member(org, "user")
    response = api(api_key_for(hidden)).post(URL, {"allowed_inference_geos": 7}, format="json")
    assert response.status_code == 404
    (denied,) = events(org, "data_residency_policy.change_denied")
    assert (denied.actor_user_id, denied.after) == (hidden.user_id, {"denied": "permission"})
    # a viewer sees it: invalid input is a 400 and records nothing
    viewer = add_member(org, "privacy_view")
    assert api(api_key_for(viewer)).post(URL, {"allowed_inference_geos": 7}, format="json").status_code == 400
    assert len(events(org, "data_residency_policy.change_denied")) == 1


def test_tightening_lists_workspaces_and_apply_brings_them_inside(org, owner, api):
    open_ws, us_ws = workspace(org, "Open"), workspace(org, "US", **US)
    both = workspace(org, "Both", allowed_inference_geos=["global", "us"], default_inference_geo="global")
    client = api(api_key_for(owner))
    assert client.post(URL, US, format="json").json()["nonconforming_workspace_ids"] == [open_ws.pk, both.pk]
    assert Workspace.objects.get(pk=open_ws.pk).allowed_inference_geos is None  # never rewritten silently
    before = AuditEvent.objects.filter(organization=org).count()
    answer = client.post(URL, {"apply_to_workspaces": True}, format="json").json()
    assert answer == policy_body(["us"], "us")
    for ws in (open_ws, us_ws, both):
        ws.refresh_from_db()
        assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")
    new = list(AuditEvent.objects.filter(organization=org).order_by("seq"))[before:]
    assert [(e.action, e.target_id) for e in new] == [
        ("workspace.updated", open_ws.pk), ("workspace.updated", both.pk), ("data_residency_policy.updated", org.pk)]
    assert new[0].before == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                                "default_inference_geo": "global"}}
    assert new[-1].after == {"apply_to_workspaces": True}
    # new workspaces start inside; nothing outside is accepted any more
    assert client.post("/v1/organizations/workspaces", {"name": "New"}, format="json").json()[
        "data_residency"]["allowed_inference_geos"] == ["us"]


def test_an_empty_body_changes_and_records_nothing(org, owner, api):
    client = api(api_key_for(owner))
    before = AuditEvent.objects.count()
    assert client.post(URL, {}, format="json").json() == policy_body()
    assert AuditEvent.objects.count() == before


def test_a_locked_policy_is_refused_to_the_owner_and_the_refusal_audited(org, owner, api):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values=US)
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason="contract 42")
    client = api(api_key_for(owner))
    assert client.get(URL).json() == policy_body(["us"], "us", locked=True, can_manage=False)
    response = client.post(URL, {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"},
                           format="json")
    assert response.status_code == 403 and "locked" in response.json()["error"]["message"]
    (denied,) = events(org, "data_residency_policy.change_denied")
    assert denied.after["denied"] == "locked:contract" and denied.actor_user_id == owner.user_id
    assert policy_of(org).allowed_inference_geos == ["us"]


# --- residency_impact ----------------------------------------------------------------------------


@pytest.fixture
def usage(org, owner):
    return priced_usage(org, owner)


def figures(response):
    body = response.json()
    return body["current_cost"], body["projected_cost"], body["delta"]


IMPACT_STATUS = expect(404, primary_owner=200, owner=200, other_org=200, anonymous=401)


@pytest.mark.parametrize("who,status", IMPACT_STATUS)
def test_impact_role_matrix_changes_and_records_nothing(people, org, usage, who, status):
    client = api_client(people, who)  # minting the member's key is audited; the estimate is not
    before = (AuditEvent.objects.count(), org.us_only_inference)
    response = client.post(IMPACT, {"change": {"us_only": True}}, format="json")
    assert response.status_code == status
    if who == "other_org":
        assert figures(response) == ("0", "0", "0")  # their own organization has no usage
    elif status == 200:
        body = response.json()
        assert figures(response) == ("4150", "4400", "250")
        assert (body["type"], body["currency"]) == ("residency_impact", "USD")
        today = timezone.now().date()
        assert body["ending_at"] == f"{today + timedelta(days=1)}T00:00:00Z"
        assert body["starting_at"] == f"{today - timedelta(days=29)}T00:00:00Z"
    elif status == 404:
        assert response.json()["error"]["message"] == "Not found."
    org.refresh_from_db()
    assert (AuditEvent.objects.count(), org.us_only_inference) == before


@pytest.mark.parametrize("levels,status", [
    ({"billing": "view", "privacy": "view"}, 200),
    ({"billing": "view", "privacy": "manage"}, 200),
    ({"billing": "view"}, 404),
    ({"privacy": "manage"}, 404),
    ({"analytics": "view", "privacy": "manage"}, 404),
])
def test_impact_needs_billing_view_and_privacy_view(org, usage, api, levels, status):
    member = member_with(org, "-".join(f"{a}:{v}" for a, v in levels.items()), levels)
    response = api(api_key_for(member)).post(IMPACT, {"change": {"us_only": True}}, format="json")
    assert response.status_code == status


def test_impact_of_each_change_by_hand(org, owner, usage, api):
    client = api(api_key_for(owner))
    policy = client.post(IMPACT, {"change": {"data_residency_policy": US}}, format="json")
    # Opus $5.00 -> $5.50 and the batch $10.50 -> $11.55; the older model and the apps stay
    assert figures(policy) == ("4150", "4305", "155")
    ws = client.post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": US}}}, format="json")
    assert figures(ws) == ("4150", "4305", "155")
    unchanged = client.post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": ["global", "us"]}}}}, format="json")
    assert figures(unchanged) == ("4150", "4150", "0")
    # a null member means "unchanged", as in a workspace update
    nulls = client.post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": ["us"], "default_inference_geo": None}}}}, format="json")
    assert nulls.status_code == 400 and "default_inference_geo" in nulls.json()["error"]["message"]  # global stays
    # allowed geos unchanged (unrestricted), a new default: usage rows do not say which requests named a geo, so
    # only requests outside the allowed geos are priced elsewhere, and there are none
    assert figures(client.post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": None, "default_inference_geo": "us"}}}}, format="json")) == ("4150", "4150", "0")
    # 90 days reach the apps usage of 40 days ago: $25.00 more, $27.50 in us
    assert figures(client.post(IMPACT, {"change": {"us_only": True}, "days": 90}, format="json")) == (
        "6650", "7150", "500")
    # one day: yesterday's usage is outside
    assert figures(client.post(IMPACT, {"change": {"us_only": True}, "days": 1}, format="json")) == ("0", "0", "0")
    # turning US-only off when it is on prices the apps usage in global
    services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    ingest_days_ago(org, owner, [{"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "us",
                         "service_tier": "standard", "output_tokens": 1_000_000}], days_ago=2)
    off = client.post(IMPACT, {"change": {"us_only": False}}, format="json")
    assert figures(off) == ("6900", "6650", "-250")


@pytest.mark.parametrize("body,words", [
    ({"change": {}}, "Send exactly one of"),
    ({"change": {"us_only": True, "data_residency_policy": US}}, "Send exactly one of"),
    ({"change": {"us_only": "yes"}}, "change.us_only"),
    ({"change": {"teleport": True}}, "change.teleport"),
    ({"change": {"us_only": True}, "days": 0}, "days"),
    ({"change": {"us_only": True}, "days": 91}, "days"),
    ({"change": {"us_only": True}, "days": "30"}, "days"),
    ({"change": {"us_only": True}, "days": 30.5}, "days"),
    ({"change": {"data_residency_policy": {"allowed_inference_geos": ["us"]}}}, "default_inference_geo"),
    ({"change": {"data_residency_policy": {"allowed_inference_geos": ["mars"]}}}, "mars"),
    ({"change": {"workspace": {"id": "wrkspc_x"}}}, "data_residency"),
    ({"change": {"workspace": {"id": "{ws}", "data_residency": {"workspace_geo": "us"}}}}, "workspace_geo"),
    ({}, "change"),
])
def test_impact_refuses_invalid_changes_with_a_400(org, owner, usage, api, body, words):
    text = str(body).replace("'", '"').replace("True", "true").replace("{ws}", usage.pk)
    response = api(api_key_for(owner)).post(IMPACT, text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert words in response.json()["error"]["message"]


def test_impact_of_a_workspace_outside_the_policy_names_it_in_details(org, owner, usage, api):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values=US)
    response = api(api_key_for(owner)).post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": ["global", "us"], "default_inference_geo": "us"}}}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == VIOLATION


def test_impact_on_another_organizations_workspace_is_a_404(org, usage, api):
    stranger = primary_owner(make_org(name="Other"))
    response = api(api_key_for(stranger)).post(IMPACT, {"change": {"workspace": {"id": usage.pk, "data_residency": US}}},
                                               format="json")
    assert response.status_code == 404


def test_us_only_impact_needs_the_usage_plan(db, api):
    team = make_org(plan="team", name="Small")
    response = api(api_key_for(primary_owner(team))).post(IMPACT, {"change": {"us_only": True}}, format="json")
    assert response.status_code == 404
    assert "usage-based Enterprise" in response.json()["error"]["message"]
    policy = api(api_key_for(primary_owner(team))).post(IMPACT, {"change": {"data_residency_policy": US}},
                                                        format="json")
    assert policy.status_code == 200


def test_a_locked_organization_sees_no_uplift(db, api):
    locked = make_org(name="Locked", lock_reason="contract")
    boss = primary_owner(locked)
    ingest_days_ago(locked, boss, [{"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "us",
                           "service_tier": "standard", "output_tokens": 1_000_000}])
    response = api(api_key_for(boss)).post(IMPACT, {"change": {"us_only": True}}, format="json")
    assert figures(response) == ("2500", "2500", "0")
