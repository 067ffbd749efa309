"""Four-eyes approval (SPEC §8) of the organization data residency policy (SPEC §5) over REST and in
the console: a loosening POST is held (202; "sent for approval"), tightening applies at once,
approval re-validates and applies in one transaction (409 when the policy moved meanwhile), and
the change request page shows before → after with the cost from the residency impact service. A
workspace change that loosens is held with its colour and tags (SPEC §9 fields) too."""

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import Conflict
from orgs.models import Workspace
from residency import services
from residency.models import ChangeRequest, DataResidencyPolicy
from tests.factories import SYSTEM, actor_for, add_member, api_key_for, primary_owner
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

ORGS = "/v1/organizations"
POLICY = f"{ORGS}/data_residency_policy"
PAGE = "/settings/privacy/data-residency-policy/"
US = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}


def approvals_on(org):
    services.approval_settings_set(actor=actor_for(primary_owner(org).user), organization=org,
                                   loosening_requires_approval=True)


def policy_row(org):
    row = DataResidencyPolicy.objects.filter(organization=org).first()
    return None if row is None else (row.allowed_inference_geos, row.default_inference_geo)


@pytest.fixture
def us_policy(org, owner):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values=US)
    approvals_on(org)


def text(response):
    return html.unescape(response.content.decode())


# --- REST -----------------------------------------------------------------------------------------


def test_a_loosening_policy_post_answers_202_and_changes_nothing(org, owner, us_policy, api):
    response = api(api_key_for(owner)).post(POLICY, {"allowed_inference_geos": "unrestricted",
                                                     "default_inference_geo": "global"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["type"] == "change_request" and body["status"] == "pending" and body["id"].startswith("chgreq_")
    assert body["change"] == {"target": {"type": "data_residency_policy", "id": org.pk}, "before": US,
                              "after": {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}}
    assert policy_row(org) == (["us"], "us")
    event = AuditEvent.objects.filter(organization=org).latest("seq")
    assert (event.action, event.source) == ("change_request.requested", "rest")


def test_tightening_the_policy_over_rest_applies_at_once(org, owner, api):
    approvals_on(org)
    response = api(api_key_for(owner)).post(POLICY, US, format="json")
    assert response.status_code == 200 and response.json()["allowed_inference_geos"] == ["us"]
    assert policy_row(org) == (["us"], "us") and not ChangeRequest.objects.exists()


def test_bringing_a_workspace_inside_that_would_widen_it_is_held_over_rest(org, owner, api):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    client = api(api_key_for(owner))
    body = {"allowed_inference_geos": ["global"], "default_inference_geo": "global"}
    response = client.post(POLICY, {**body, "apply_to_workspaces": True}, format="json")
    assert response.status_code == 202 and response.json()["change"]["after"]["apply_to_workspaces"] is True
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and policy_row(org) is None
    # the same policy leaving the workspace outside it moves it too (it routes by the policy's default)
    assert client.post(POLICY, body, format="json").status_code == 202


def test_another_member_approves_over_rest_and_it_is_applied(org, owner, us_policy, api):
    held = api(api_key_for(owner)).post(POLICY, {"allowed_inference_geos": ["global", "us"]}, format="json").json()
    approver = add_member(org, "privacy_manage")
    assert api(api_key_for(owner)).post(f"{ORGS}/change_requests/{held['id']}/approve").status_code == 403
    response = api(api_key_for(approver)).post(f"{ORGS}/change_requests/{held['id']}/approve")
    assert response.status_code == 200 and response.json()["status"] == "applied"
    assert policy_row(org) == (["global", "us"], "us")
    change = AuditEvent.objects.filter(organization=org, action="data_residency_policy.updated").latest("seq")
    assert change.actor_user_id == approver.user_id and change.requested_by_id == owner.user_id
    assert change.change_request_id == held["id"]


def test_approving_after_the_policy_moved_is_a_409_and_nothing_applies(org, owner, api):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org,
                                       values={"allowed_inference_geos": ["global", "us"], "default_inference_geo": "us"})
    approvals_on(org)
    held = api(api_key_for(owner)).post(POLICY, {"default_inference_geo": "global"}, format="json")
    assert held.status_code == 202
    second = api(api_key_for(add_member(org, "owner")))
    # meanwhile another owner tightens it: applied at once
    assert second.post(POLICY, {"allowed_inference_geos": ["us"]}, format="json").status_code == 200
    since = AuditEvent.objects.filter(organization=org).latest("seq").seq
    response = second.post(f"{ORGS}/change_requests/{held.json()['id']}/approve")
    assert response.status_code == 409 and response.json()["error"]["type"] == "conflict_error"
    assert policy_row(org) == (["us"], "us")
    assert ChangeRequest.objects.get(pk=held.json()["id"]).status == "conflict"
    assert list(AuditEvent.objects.filter(organization=org, seq__gt=since).values_list("action", flat=True)) == [
        "change_request.conflict"]


def test_a_locked_policy_is_a_403_never_a_202(org, owner, us_policy, api):
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason="contract")
    response = api(api_key_for(owner)).post(POLICY, {"allowed_inference_geos": "unrestricted"}, format="json")
    assert response.status_code == 403 and not ChangeRequest.objects.exists()


# --- console --------------------------------------------------------------------------------------


def test_the_policy_confirmation_says_it_needs_approval_and_the_save_sends_it(org, owner, us_policy, console):
    client = console(owner.user)
    form = {"allowed_mode": "unrestricted", "default_inference_geo": "global"}
    confirm = text(client.post(PAGE, form))
    assert "This needs approval" in confirm and "Send for approval" in confirm
    response = client.post(PAGE, {**form, "confirmed": "on"})
    change_request = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/settings/privacy/change-requests/{change_request.pk}/"
    assert policy_row(org) == (["us"], "us")
    page = text(client.get(response["Location"]))
    assert "Sent for approval" in page
    # the policy page shows the banner while it waits
    assert "1 change waiting for approval" in text(client.get(PAGE))


def test_tightening_in_the_console_saves_without_asking(org, owner, console):
    approvals_on(org)
    client = console(owner.user)
    form = {"allowed_mode": "restricted", "allowed_geos": ["us"], "default_inference_geo": "us"}
    assert "This needs approval" not in text(client.post(PAGE, form))
    response = client.post(PAGE, {**form, "confirmed": "on"}, follow=True)
    assert "Saved the data residency policy" in text(response)
    assert policy_row(org) == (["us"], "us") and not ChangeRequest.objects.exists()


def test_the_request_page_shows_before_after_and_the_cost(org, owner, us_policy, console):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    services.usage_ingest(actor=actor_for(owner.user), organization=org, records=[{
        "id": "api-1", "surface": "api", "workspace_id": ws.pk, "model": "claude-opus-4-6", "inference_geo": "us",
        "service_tier": "standard", "occurred_at": (timezone.now() - timedelta(days=1)).isoformat(),
        "output_tokens": 1_000_000}])
    held = services.data_residency_policy_set(actor=actor_for(owner.user), organization=org,
                                              values={"allowed_inference_geos": ["global", "us"],
                                                      "default_inference_geo": "global"})
    assert isinstance(held, ChangeRequest)
    page = text(console(add_member(org, "owner").user).get(f"/settings/privacy/change-requests/{held.pk}/"))
    assert "Over the last 30 days this would have cost" in page
    section = page.split("What would change")[1]
    assert "us" in section and "global" in section and "→" in section


# --- a workspace's colour and tags wait with its residency ----------------------------------------


def test_a_held_workspace_change_keeps_its_colour_and_tags_until_approved(org, owner, api):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    client = api(api_key_for(owner))
    response = client.post(f"{ORGS}/workspaces/{ws.pk}", {
        "display_color": "#112233", "tags": {"team": "ml"},
        "data_residency": {"allowed_inference_geos": ["global", "us"]}}, format="json")
    assert response.status_code == 202, response.content
    ws.refresh_from_db()
    assert ws.display_color != "#112233" and ws.tags == {} and ws.allowed_inference_geos == ["us"]
    approver = add_member(org, "owner")
    assert api(api_key_for(approver)).post(
        f"{ORGS}/change_requests/{response.json()['id']}/approve").status_code == 200
    ws = Workspace.objects.get(pk=ws.pk)
    assert (ws.display_color, ws.tags, ws.allowed_inference_geos) == ("#112233", {"team": "ml"}, ["global", "us"])


def test_colour_and_tags_changed_meanwhile_are_a_conflict(org, owner):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    held = services.workspace_update(actor=actor_for(owner.user), workspace=ws, tags={"team": "ml"},
                                     data_residency={"allowed_inference_geos": ["global", "us"]})
    assert isinstance(held, ChangeRequest)
    services.workspace_update(actor=actor_for(owner.user), workspace=ws, tags={"team": "infra"})
    with pytest.raises(Conflict):
        services.change_request_approve(actor=actor_for(add_member(org, "owner").user), organization=org,
                                        change_request=held)
    ws.refresh_from_db()
    assert ws.tags == {"team": "infra"} and ws.allowed_inference_geos == ["us"]
