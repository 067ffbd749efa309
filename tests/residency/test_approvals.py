"""Four-eyes approval of loosening changes (SPEC §8), through the services and REST: the setting,
every change that loosens held as a request, tightening applied at once, who may approve, reject
and withdraw, conflicts, expiry, and what the audit log records. Emails: test_approvals_email.py;
console and Django admin: test_approvals_console.py; two approvals at once:
test_approvals_concurrency.py."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import AuditEvent
from core.actor import Actor
from core.errors import Conflict
from orgs import services as org_services
from orgs.models import Organization, Workspace
from residency import services
from residency.models import ApprovalSettings, ChangeRequest, DataResidencyPolicy
from tests.factories import SYSTEM, actor_for, add_member, api_key_for, make_org, primary_owner
from tests.orgs.matrix import api_client, build_people, expect
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

ORGS = "/v1/organizations"
SETTINGS = f"{ORGS}/approval_settings"
US_ONLY = f"{ORGS}/inference_residency"


def approvals_on(org):
    services.approval_settings_set(actor=actor_for(primary_owner(org).user), organization=org,
                                   loosening_requires_approval=True)


def actions(org, since=0):
    return list(AuditEvent.objects.filter(organization=org, seq__gt=since).order_by("seq").values_list("action",
                                                                                                         flat=True))


def head(org):
    return AuditEvent.objects.filter(organization=org).order_by("-seq").values_list("seq", flat=True).first() or 0


def us_only_on(org):
    services.inference_residency_set(actor=actor_for(primary_owner(org).user), organization=org, us_only=True)


def ask_us_only_off(org, membership=None):
    membership = membership or primary_owner(org)
    return services.inference_residency_set(actor=actor_for(membership.user), organization=org, us_only=False)


@pytest.fixture
def held(org, owner):
    """US-only on, approvals on, and the primary owner asking to turn US-only off."""
    us_only_on(org)
    approvals_on(org)
    change_request = ask_us_only_off(org)
    assert isinstance(change_request, ChangeRequest)
    return change_request


@pytest.fixture
def second_owner(org):
    return add_member(org, "owner")


# --- the setting ---------------------------------------------------------------------------------


def test_off_by_default_and_readable_with_privacy_view(org, owner, api):
    assert api(api_key_for(owner)).get(SETTINGS).json() == {"type": "approval_settings",
                                                             "loosening_requires_approval": False}


@pytest.mark.parametrize(("who", "status"), expect(200, privacy_none=404, admin=404, user=404, auditor=404,
                                                   anonymous=401))
def test_who_reads_the_setting(org, who, status):
    people = build_people(org)
    assert api_client(people, who).get(SETTINGS).status_code == status


@pytest.mark.parametrize(("who", "status"), expect(403, primary_owner=200, other_org=200, privacy_none=404,
                                                   admin=404, user=404, auditor=404, anonymous=401))
def test_only_the_primary_owner_turns_it_on(org, who, status):
    people = build_people(org)
    since = head(org)
    response = api_client(people, who).post(SETTINGS, {"loosening_requires_approval": True}, format="json")
    assert response.status_code == status, response.content
    on = ApprovalSettings.objects.filter(organization=org, loosening_requires_approval=True).exists()
    assert on is (who == "primary_owner")
    if who == "primary_owner":
        assert response.json() == {"type": "approval_settings", "loosening_requires_approval": True}
        event = AuditEvent.objects.get(organization=org, action="approval_settings.updated")
        assert (event.before, event.after) == ({"loosening_requires_approval": False},
                                               {"loosening_requires_approval": True})
    elif status in (403, 404) and who not in ("other_org",):
        refused = AuditEvent.objects.filter(organization=org, seq__gt=since,
                                            action="approval_settings.change_denied")
        assert refused.count() == 1 and refused.get().outcome == "denied"


def test_a_key_someone_else_minted_for_an_owner_cannot_turn_it_on(org, owner, second_owner, api):
    # the primary owner mints a key for an owner: it acts at most as the owner, who may not
    _, secret = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="for Bo",
                                            membership=second_owner)
    assert api(secret).post(SETTINGS, {"loosening_requires_approval": True}, format="json").status_code == 403


@pytest.mark.parametrize("who", ["owner", "privacy_manage"])
def test_turning_it_off_is_itself_a_change_request(org, who, api):
    people = build_people(org)
    approvals_on(org)
    response = api_client(people, who).post(SETTINGS, {"loosening_requires_approval": False}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["change"] == {"target": {"type": "approval_settings", "id": org.pk},
                              "before": {"loosening_requires_approval": True},
                              "after": {"loosening_requires_approval": False}}
    assert ApprovalSettings.objects.get(organization=org).loosening_requires_approval is True
    # another person approves: now it is off, recorded with both
    approver = people["primary_owner"]
    services.change_request_approve(actor=actor_for(approver.user), organization=org,
                                    change_request=ChangeRequest.objects.get(pk=body["id"]))
    assert ApprovalSettings.objects.get(organization=org).loosening_requires_approval is False
    event = AuditEvent.objects.filter(organization=org, action="approval_settings.updated").latest("seq")
    assert event.actor_user_id == approver.user_id and event.requested_by_id == people[who].user_id


def test_the_setting_refuses_what_is_not_a_boolean(org, owner, api):
    response = api(api_key_for(owner)).post(SETTINGS, {"loosening_requires_approval": "yes"}, format="json")
    assert response.status_code == 400
    assert "loosening_requires_approval" in response.json()["error"]["message"]


# --- loosening changes wait, tightening ones do not ----------------------------------------------


def test_turning_us_only_off_over_rest_answers_202_with_the_change_request(org, owner, api):
    us_only_on(org)
    approvals_on(org)
    client = api(api_key_for(owner))
    since = head(org)
    before = timezone.now()
    response = client.post(US_ONLY, {"us_only": False}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"type", "id", "status", "change", "requested_by", "created_at", "expires_at", "decided_by",
                         "decided_at"}
    assert body["type"] == "change_request" and body["id"].startswith("chgreq_") and body["status"] == "pending"
    assert body["change"] == {"target": {"type": "inference_residency", "id": org.pk}, "before": {"us_only": True},
                              "after": {"us_only": False}}
    assert body["requested_by"] == {"id": owner.user_id, "type": "user"}
    assert body["decided_by"] is None and body["decided_at"] is None
    change_request = ChangeRequest.objects.get(pk=body["id"])
    assert change_request.expires_at - change_request.created_at == timedelta(hours=72)
    assert change_request.created_at >= before
    org.refresh_from_db()
    assert org.us_only_inference is True  # not applied
    assert actions(org, since) == ["change_request.requested"]
    event = AuditEvent.objects.get(organization=org, action="change_request.requested")
    assert (event.actor_user_id, event.target_id, event.change_request_id, event.requested_by_id) == (
        owner.user_id, change_request.pk, change_request.pk, owner.user_id)
    assert (event.before, event.after) == ({"us_only": True}, {"us_only": False})
    assert event.source == "rest"


def test_a_loosening_workspace_change_over_rest_is_held_name_and_all(org, owner, api):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    response = api(api_key_for(owner)).post(f"{ORGS}/workspaces/{ws.pk}", {
        "name": "Production", "data_residency": {"allowed_inference_geos": ["global", "us"]}}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["change"] == {
        "target": {"type": "workspace", "id": ws.pk},
        "before": {"name": "Prod", "data_residency": {"workspace_geo": "us", "allowed_inference_geos": ["us"],
                                                      "default_inference_geo": "us"}},
        "after": {"name": "Production", "data_residency": {"workspace_geo": "us",
                                                           "allowed_inference_geos": ["global", "us"],
                                                           "default_inference_geo": "us"}}}
    ws.refresh_from_db()
    assert (ws.name, ws.allowed_inference_geos) == ("Prod", ["us"])


def test_a_workspace_admin_may_ask_and_sees_their_own_request(org, owner, api):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    delegate = add_member(org, "user")
    services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=delegate, admin=True)
    approvals_on(org)
    client = api(api_key_for(delegate))
    response = client.post(f"{ORGS}/workspaces/{ws.pk}", {"data_residency": {"allowed_inference_geos": "unrestricted"}},
                           format="json")
    assert response.status_code == 202
    change_request_id = response.json()["id"]
    assert client.get(f"{ORGS}/change_requests/{change_request_id}").status_code == 200
    assert [r["id"] for r in client.get(f"{ORGS}/change_requests").json()["data"]] == [change_request_id]
    assert client.get(SETTINGS).status_code == 404  # the setting itself needs Privacy: view
    assert client.post(f"{ORGS}/change_requests/{change_request_id}/withdraw").status_code == 200


def test_a_loosening_policy_change_is_held(org, owner):
    actor = actor_for(owner.user)
    services.data_residency_policy_set(actor=actor, organization=org, values={"allowed_inference_geos": ["us"],
                                                                              "default_inference_geo": "us"})
    approvals_on(org)
    result = services.data_residency_policy_set(actor=actor, organization=org,
                                                values={"allowed_inference_geos": "unrestricted"})
    assert isinstance(result, ChangeRequest)
    assert (result.target_type, result.before, result.after) == (
        "data_residency_policy", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
        {"allowed_inference_geos": "unrestricted", "default_inference_geo": "us"})
    assert DataResidencyPolicy.objects.get(organization=org).allowed_inference_geos == ["us"]
    services.change_request_approve(actor=actor_for(add_member(org, "privacy_manage").user), organization=org,
                                    change_request=result)
    assert DataResidencyPolicy.objects.get(organization=org).allowed_inference_geos is None
    event = AuditEvent.objects.filter(organization=org, action="data_residency_policy.updated").latest("seq")
    assert event.requested_by_id == owner.user_id and event.change_request_id == result.pk


def test_a_policy_of_the_same_reach_that_would_open_workspaces_is_held(org, owner):
    """unrestricted -> ["global"] reaches as far, but bringing a ["us"] workspace inside it moves
    that workspace to ["global"]: with apply_to_workspaces the change loosens."""
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    actor = actor_for(owner.user)
    result = services.data_residency_policy_set(actor=actor, organization=org,
                                                values={"allowed_inference_geos": ["global"],
                                                        "default_inference_geo": "global"}, apply_to_workspaces=True)
    assert isinstance(result, ChangeRequest) and result.after["apply_to_workspaces"] is True
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]
    # approved: the workspace moves too, recorded with the requester
    services.change_request_approve(actor=actor_for(add_member(org, "owner").user), organization=org,
                                    change_request=result)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["global"]
    moved = AuditEvent.objects.filter(organization=org, action="workspace.updated", target_id=ws.pk).latest("seq")
    assert moved.change_request_id == result.pk and moved.requested_by_id == owner.user_id


def test_a_policy_that_moves_a_workspace_left_outside_it_is_held(org, owner, api):
    """Without bringing workspaces inside, a ["us"] workspace outside a ["global"] policy routes by
    the policy's default: its requests would run in global, where they could not before."""
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    decision = {"workspace_id": ws.pk, "model": "claude-opus-4-6"}
    client = api(api_key_for(owner))
    assert client.post("/v1/residency/decisions", decision, format="json").json()["routing_geo"] == "us"
    held = services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values={
        "allowed_inference_geos": ["global"], "default_inference_geo": "global"})
    assert isinstance(held, ChangeRequest)
    assert client.post("/v1/residency/decisions", decision, format="json").json()["routing_geo"] == "us"
    # a workspace already inside is not moved: applied at once
    ws.allowed_inference_geos, ws.default_inference_geo = ["global"], "global"
    ws.save()
    row = services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values={
        "allowed_inference_geos": ["global"], "default_inference_geo": "global"})
    assert isinstance(row, DataResidencyPolicy) and row.allowed_inference_geos == ["global"]


def test_tightening_never_waits(org, owner, api):
    ws = workspace(org, "Prod")
    approvals_on(org)
    client = api(api_key_for(owner))
    assert client.post(US_ONLY, {"us_only": True}, format="json").status_code == 200
    response = client.post(f"{ORGS}/workspaces/{ws.pk}", {
        "data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}, format="json")
    assert response.status_code == 200 and response.json()["data_residency"]["allowed_inference_geos"] == ["us"]
    assert client.post(f"{ORGS}/workspaces/{ws.pk}", {"name": "Renamed"}, format="json").status_code == 200
    row = services.data_residency_policy_set(actor=actor_for(owner.user), organization=org,
                                             values={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    assert isinstance(row, DataResidencyPolicy)
    # creating a workspace never loosens (the policy bounds it)
    assert client.post(f"{ORGS}/workspaces", {"name": "New"}, format="json").status_code == 200
    assert not ChangeRequest.objects.exists()


def test_with_approvals_off_loosening_applies_at_once(org, owner, api):
    us_only_on(org)
    response = api(api_key_for(owner)).post(US_ONLY, {"us_only": False}, format="json")
    assert response.status_code == 200 and response.json()["us_only"] is False
    assert not ChangeRequest.objects.exists()


def test_staff_plan_changes_apply_at_once(org, owner):
    us_only_on(org)
    approvals_on(org)
    staff = Actor.system("tests")
    services.organization_terms_update(actor=staff, organization=org, plan="team")
    org.refresh_from_db()
    assert (org.plan, org.us_only_inference) == ("team", False)
    assert not ChangeRequest.objects.exists()


# --- validation and permission come first: 400/403/404, never a 202 ---------------------------------


def test_a_locked_target_is_a_403_never_a_202(api):
    org = make_org(plan="enterprise_usage", lock_reason="contract")
    approvals_on(org)
    response = api(api_key_for(primary_owner(org))).post(US_ONLY, {"us_only": False}, format="json")
    assert response.status_code == 403
    assert not ChangeRequest.objects.exists()
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason="contract")
    with pytest.raises(PermissionDenied):
        services.data_residency_policy_set(actor=actor_for(primary_owner(org).user), organization=org,
                                           values={"allowed_inference_geos": "unrestricted"})
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize(("who", "status"), expect(202, privacy_view=403, privacy_none=404, admin=404, user=404,
                                                   auditor=404, other_org=200, anonymous=401))
def test_who_may_ask_to_turn_us_only_off(org, who, status):
    people = build_people(org)
    us_only_on(org)
    approvals_on(org)
    if who == "other_org":
        us_only_on(people["other_org"].organization)
    response = api_client(people, who).post(US_ONLY, {"us_only": False}, format="json")
    assert response.status_code == status, response.content
    assert ChangeRequest.objects.filter(organization=org).count() == (1 if status == 202 else 0)


def test_invalid_input_is_a_400_and_holds_nothing(org, owner, api):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    us_only_on(org)
    approvals_on(org)
    client = api(api_key_for(owner))
    since = head(org)
    assert client.post(US_ONLY, {"us_only": "off"}, format="json").status_code == 400
    assert client.post(f"{ORGS}/workspaces/{ws.pk}", {"data_residency": {"allowed_inference_geos": ["mars"]}},
                       format="json").status_code == 400
    assert client.post(f"{ORGS}/workspaces/wrkspc_nope", {"data_residency": {"allowed_inference_geos": ["global"]}},
                       format="json").status_code == 404
    services.workspace_archive(actor=actor_for(owner.user), workspace=ws)
    assert client.post(f"{ORGS}/workspaces/{ws.pk}", {"data_residency": {"allowed_inference_geos": ["global"]}},
                       format="json").status_code == 400
    assert not ChangeRequest.objects.exists()
    assert actions(org, since) == ["workspace.archived"]


# --- approve, reject, withdraw --------------------------------------------------------------------


def approve_url(change_request, what="approve"):
    return f"{ORGS}/change_requests/{change_request.pk}/{what}"


def test_another_owner_approves_and_the_change_is_applied_and_attributed_to_both(org, owner, held, second_owner, api):
    client = api(api_key_for(second_owner))
    since = head(org)
    response = client.post(approve_url(held))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "applied" and body["decided_by"] == {"id": second_owner.user_id, "type": "user"}
    org.refresh_from_db()
    assert org.us_only_inference is False
    assert actions(org, since) == ["change_request.approved", "inference_residency.updated", "change_request.applied"]
    change = AuditEvent.objects.get(organization=org, action="inference_residency.updated", seq__gt=since)
    assert change.actor_user_id == second_owner.user_id and change.requested_by_id == owner.user_id
    assert change.requested_by_label == owner.user.display_name and change.change_request_id == held.pk
    assert (change.before, change.after) == ({"us_only": True}, {"us_only": False})
    for event in AuditEvent.objects.filter(organization=org, seq__gt=since):
        assert event.requested_by_id == owner.user_id and event.change_request_id == held.pk
    assert verify_chain(org).ok
    # decided: a second approval is a 409, and changes nothing
    assert api(api_key_for(primary_owner(org))).post(approve_url(held)).status_code == 403  # the requester, still
    third = api(api_key_for(add_member(org, "owner")))
    settled = head(org)
    response = third.post(approve_url(held))
    assert response.status_code == 409 and response.json()["error"]["type"] == "conflict_error"
    assert head(org) == settled


def test_the_requester_cannot_approve_in_person_or_with_their_own_key(org, owner, held, client, api):
    assert api(api_key_for(owner)).post(approve_url(held)).status_code == 403
    assert api(api_key_for(owner)).post(approve_url(held, "reject")).status_code == 403
    client.force_login(owner.user)
    page = client.post(f"/settings/privacy/change-requests/{held.pk}/approve/")
    assert page.status_code == 403 and b"another person with Privacy: Can manage" in page.content
    with pytest.raises(PermissionDenied, match="You asked for this change"):
        services.change_request_approve(actor=actor_for(owner.user), organization=org, change_request=held)
    held.refresh_from_db()
    org.refresh_from_db()
    assert held.status == "pending" and org.us_only_inference is True
    # every refused attempt is in the audit log, with who asked for the change
    refused = AuditEvent.objects.filter(organization=org, action="change_request.decision_denied").order_by("seq")
    assert [(e.after["action"], e.source, e.outcome) for e in refused] == [
        ("approve", "rest", "denied"), ("reject", "rest", "denied"), ("approve", "console", "denied"),
        ("approve", "console", "denied")]
    assert {(e.actor_user_id, e.requested_by_id, e.change_request_id) for e in refused} == {
        (owner.user_id, owner.user_id, held.pk)}
    assert "You asked for this change" in refused[0].after["reason"]


def test_a_key_someone_else_minted_for_the_approver_cannot_approve(org, owner, held, api):
    approver = add_member(org, "privacy_manage")
    minter = add_member(org, "owner")
    _, minted = org_services.api_key_create(actor=actor_for(minter.user), organization=org, name="for the approver",
                                            membership=approver)
    response = api(minted).post(approve_url(held))
    assert response.status_code == 403 and "created by someone else" in response.json()["error"]["message"]
    assert api(minted).post(approve_url(held, "reject")).status_code == 403
    # the requester minting a key for someone else does not get around it either
    _, laundered = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="laundered",
                                               membership=approver)
    assert api(laundered).post(approve_url(held)).status_code == 403
    # the approver's own key works
    assert api(api_key_for(approver)).post(approve_url(held)).status_code == 200


def test_whoever_minted_the_requesters_key_cannot_approve_or_withdraw_through_it(org, owner, api):
    """One person alone: the owner mints a key for a Privacy: manage member, asks through it (the
    request names the member), then approves in person or with their own key. Refused; and the
    minted key cannot withdraw the member's requests either."""
    member = add_member(org, "privacy_manage")
    _, minted = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="for member",
                                            membership=member)
    us_only_on(org)
    approvals_on(org)
    asked = api(minted).post("/v1/organizations/inference_residency", {"us_only": False}, format="json")
    assert asked.status_code == 202 and asked.json()["requested_by"]["id"] == member.user_id
    held = ChangeRequest.objects.get(pk=asked.json()["id"])
    assert held.requested_through_key_of_id == owner.user_id
    for secret in (api_key_for(owner), minted):
        refused = api(secret).post(approve_url(held))
        assert refused.status_code == 403, refused.content
    message = api(api_key_for(owner)).post(approve_url(held)).json()["error"]["message"]
    assert "asked for with an API key you created" in message
    with pytest.raises(PermissionDenied):
        services.change_request_approve(actor=actor_for(owner.user), organization=org, change_request=held)
    refused = api(minted).post(approve_url(held, "withdraw"))
    assert refused.status_code == 403 and "created by someone else" in refused.json()["error"]["message"]
    org.refresh_from_db()
    assert org.us_only_inference is True
    # a third person with Privacy: manage may; the member may withdraw with their own key
    third = add_member(org, "owner")
    assert api(api_key_for(third)).post(approve_url(held)).status_code == 200
    org.refresh_from_db()
    assert org.us_only_inference is False


def test_a_bootstrap_key_counts_as_its_owners_own(org, owner, api):
    out = StringIO()
    call_command("bootstrap_org", "--name", "Boot Co", "--plan", "enterprise_usage", "--owner-email",
                 "boot@boot.test", "--json", stdout=out)
    import json

    created = json.loads(out.getvalue())
    boot_org = Organization.objects.get(pk=created["organization_id"])
    asker = add_member(boot_org, "owner")
    us_only_on(boot_org)
    approvals_on(boot_org)
    held = ask_us_only_off(boot_org, asker)
    assert api(created["api_key"]).post(approve_url(held)).status_code == 200


@pytest.mark.parametrize(("who", "status"), expect(200, primary_owner=403, privacy_view=403, privacy_none=404,
                                                   admin=404, user=404, auditor=404, other_org=404, anonymous=401))
def test_who_may_approve(org, who, status):
    people = build_people(org)
    us_only_on(org)
    approvals_on(org)
    held = ask_us_only_off(org)  # asked by the primary owner
    response = api_client(people, who).post(approve_url(held))
    assert response.status_code == status, response.content
    held.refresh_from_db()
    assert held.status == ("applied" if status == 200 else "pending")


@pytest.mark.parametrize(("who", "status"), expect(200, privacy_none=404, admin=404, user=404, auditor=404,
                                                   other_org=404, anonymous=401))
def test_who_may_read_a_change_request(org, who, status):
    people = build_people(org)
    us_only_on(org)
    approvals_on(org)
    held = ask_us_only_off(org)
    assert api_client(people, who).get(f"{ORGS}/change_requests/{held.pk}").status_code == status
    listing = api_client(people, who).get(f"{ORGS}/change_requests")
    if status == 200:
        assert [r["id"] for r in listing.json()["data"]] == [held.pk]
    elif who != "anonymous":
        assert listing.status_code == 200 and listing.json()["data"] == []


def test_reject_changes_nothing_and_records_the_reason(org, owner, held, second_owner):
    since = head(org)
    services.change_request_reject(actor=actor_for(second_owner.user), organization=org, change_request=held,
                                   reason="Not before the audit")
    held.refresh_from_db()
    org.refresh_from_db()
    assert (held.status, held.decided_by_id, org.us_only_inference) == ("rejected", second_owner.user_id, True)
    event = AuditEvent.objects.get(organization=org, seq__gt=since)
    assert event.action == "change_request.rejected" and event.after == {"status": "rejected",
                                                                         "reason": "Not before the audit"}
    with pytest.raises(Conflict, match="rejected"):
        services.change_request_approve(actor=actor_for(second_owner.user), organization=org, change_request=held)


def test_only_the_requester_withdraws(org, owner, held, second_owner, api):
    assert api(api_key_for(second_owner)).post(approve_url(held, "withdraw")).status_code == 403
    response = api(api_key_for(owner)).post(approve_url(held, "withdraw"))
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert api(api_key_for(second_owner)).post(approve_url(held)).status_code == 409
    org.refresh_from_db()
    assert org.us_only_inference is True
    withdrawn = AuditEvent.objects.get(organization=org, action="change_request.withdrawn")
    assert withdrawn.actor_user_id == owner.user_id and withdrawn.requested_by_id == owner.user_id


def test_another_organizations_change_request_is_a_404(org, owner, held, api):
    other = make_org(name="Other")
    client = api(api_key_for(primary_owner(other)))
    for what in ("approve", "reject", "withdraw"):
        assert client.post(approve_url(held, what)).status_code == 404
    assert client.get(f"{ORGS}/change_requests/{held.pk}").status_code == 404
    assert api(api_key_for(owner)).get(f"{ORGS}/change_requests/chgreq_nope").status_code == 404


def test_the_list_filters_by_status_newest_first(org, owner, held, second_owner, api):
    services.change_request_reject(actor=actor_for(second_owner.user), organization=org, change_request=held)
    newer = ask_us_only_off(org)
    client = api(api_key_for(second_owner))
    assert [r["id"] for r in client.get(f"{ORGS}/change_requests").json()["data"]] == [newer.pk, held.pk]
    assert [r["id"] for r in client.get(f"{ORGS}/change_requests", {"status": "pending"}).json()["data"]] == [newer.pk]
    assert client.get(f"{ORGS}/change_requests", {"status": "maybe"}).status_code == 400


# --- conflicts: the state it was asked against moved ----------------------------------------------


def test_approving_after_the_target_changed_is_a_409_and_a_conflict(org, owner, held, second_owner, api):
    twin = ask_us_only_off(org)  # the same change, asked twice
    client = api(api_key_for(second_owner))
    assert client.post(approve_url(held)).status_code == 200
    since = head(org)
    response = client.post(approve_url(twin))
    assert response.status_code == 409 and response.json()["error"]["type"] == "conflict_error"
    assert "changed after this request was made" in response.json()["error"]["message"]
    twin.refresh_from_db()
    assert twin.status == "conflict" and "changed" in twin.outcome_message
    assert actions(org, since) == ["change_request.conflict"]
    conflict = AuditEvent.objects.get(organization=org, seq__gt=since)
    assert conflict.actor_user_id == second_owner.user_id and conflict.requested_by_id == owner.user_id


def test_a_workspace_changed_meanwhile_is_a_conflict(org, owner, second_owner):
    ws = workspace(org, "Prod", allowed_inference_geos=["global", "us"], default_inference_geo="us")
    approvals_on(org)
    asked = services.workspace_update(actor=actor_for(owner.user), workspace=ws,
                                      data_residency={"default_inference_geo": "global"})
    assert isinstance(asked, ChangeRequest)
    services.workspace_update(actor=actor_for(second_owner.user), workspace=ws,
                              data_residency={"allowed_inference_geos": ["us"]})  # tightens: at once
    with pytest.raises(Conflict):
        services.change_request_approve(actor=actor_for(second_owner.user), organization=org, change_request=asked)
    ws.refresh_from_db()
    asked.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and asked.status == "conflict"


def test_a_change_no_longer_valid_is_a_conflict_naming_why(org, owner, second_owner):
    """The workspace did not move, but the organization policy did: applied now it would fall
    outside the policy, so nothing is applied."""
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    asked = services.workspace_update(actor=actor_for(owner.user), workspace=ws,
                                      data_residency={"allowed_inference_geos": ["global", "us"]})
    services.data_residency_policy_set(actor=actor_for(second_owner.user), organization=org,
                                       values={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    since = head(org)
    with pytest.raises(Conflict, match="data residency policy"):
        services.change_request_approve(actor=actor_for(second_owner.user), organization=org, change_request=asked)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]
    assert actions(org, since) == ["change_request.conflict"]  # no approval, no change recorded


def test_an_archived_workspace_is_a_conflict(org, owner, second_owner):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    asked = services.workspace_update(actor=actor_for(owner.user), workspace=ws,
                                      data_residency={"allowed_inference_geos": ["global"],
                                                      "default_inference_geo": "global"})
    services.workspace_archive(actor=actor_for(second_owner.user), workspace=ws)
    with pytest.raises(Conflict):
        services.change_request_approve(actor=actor_for(second_owner.user), organization=org, change_request=asked)
    assert Workspace.objects.get(pk=ws.pk).allowed_inference_geos == ["us"]


# --- expiry after 72 hours -----------------------------------------------------------------------


def age(change_request, hours=73):
    """Make the request `hours` older."""
    ChangeRequest.objects.filter(pk=change_request.pk).update(created_at=F("created_at") - timedelta(hours=hours),
                                                              expires_at=F("expires_at") - timedelta(hours=hours))


def test_a_request_expires_after_72_hours_when_read(org, owner, held, second_owner, api):
    age(held, hours=71)
    client = api(api_key_for(second_owner))
    assert client.get(f"{ORGS}/change_requests/{held.pk}").json()["status"] == "pending"
    age(held, hours=2)
    since = head(org)
    body = client.get(f"{ORGS}/change_requests/{held.pk}").json()
    assert body["status"] == "expired" and body["decided_by"] is None and body["decided_at"]
    assert actions(org, since) == ["change_request.expired"]
    event = AuditEvent.objects.get(organization=org, seq__gt=since)
    assert event.actor_type == "system" and event.requested_by_id == owner.user_id
    assert client.post(approve_url(held)).status_code == 409
    org.refresh_from_db()
    assert org.us_only_inference is True


def test_approving_a_request_past_its_time_expires_it_first(org, owner, held, second_owner):
    age(held)
    with pytest.raises(Conflict, match="expired"):
        services.change_request_approve(actor=actor_for(second_owner.user), organization=org, change_request=held)
    held.refresh_from_db()
    assert held.status == "expired"
    assert actions(org)[-1] == "change_request.expired"


def test_the_expire_command_expires_every_organizations_due_requests(org, owner, held):
    other = make_org(name="Other")
    us_only_on(other)
    approvals_on(other)
    theirs = ask_us_only_off(other)
    fresh = ask_us_only_off(org)
    age(held)
    age(theirs)
    out = StringIO()
    call_command("expire_change_requests", stdout=out)
    assert "Expired 2 change requests" in out.getvalue()
    statuses = dict(ChangeRequest.objects.values_list("pk", "status"))
    assert statuses == {held.pk: "expired", theirs.pk: "expired", fresh.pk: "pending"}
    call_command("expire_change_requests", stdout=out)
    assert "Expired 0 change requests" in out.getvalue()
    assert verify_chain(org).ok and verify_chain(other).ok


# --- the services refuse what the views refuse ---------------------------------------------------


def test_services_refuse_members_who_cannot_see_it(org, owner, held):
    stranger = add_member(org, "user")
    with pytest.raises(Http404):
        services.change_request_approve(actor=actor_for(stranger.user), organization=org, change_request=held)
    viewer = add_member(org, "privacy_view")
    with pytest.raises(PermissionDenied, match="Privacy: Can manage"):
        services.change_request_reject(actor=actor_for(viewer.user), organization=org, change_request=held)
    with pytest.raises(ValidationError):
        services.approval_settings_set(actor=actor_for(owner.user), organization=org, loosening_requires_approval=1)


@pytest.mark.parametrize("extra", [0, 25])
def test_the_rest_list_keeps_its_query_count(org, owner, second_owner, api, django_assert_num_queries, extra):
    us_only_on(org)
    approvals_on(org)
    for _ in range(extra + 1):
        services.change_request_reject(actor=actor_for(second_owner.user), organization=org,
                                       change_request=ask_us_only_off(org))
    client = api(api_key_for(second_owner))
    client.get(f"{ORGS}/change_requests")
    with django_assert_num_queries(5):  # key, membership, permissions, due requests, the page
        response = client.get(f"{ORGS}/change_requests", {"limit": 100})
    assert len(response.json()["data"]) == extra + 1


def test_privacy_none_is_a_404_audited_before_any_400(org, api):
    """SPEC §2 order for the setting too: hidden first (audited, with a bounded summary of what
    was sent), then invalid input (a 400 that records nothing), then a 403 (audited)."""
    hidden = api(api_key_for(add_member(org, "privacy_none")))
    response = hidden.post(SETTINGS, {"loosening_requires_approval": "x" * 5000}, format="json")
    assert response.status_code == 404
    event = AuditEvent.objects.filter(organization=org).latest("seq")
    assert (event.action, event.outcome) == ("approval_settings.change_denied", "denied")
    assert event.after["loosening_requires_approval"]["bytes"] == 5002 and event.after["denied"] == "permission"
    viewer = api(api_key_for(add_member(org, "privacy_view")))
    settled = head(org)
    assert viewer.post(SETTINGS, {"loosening_requires_approval": "yes"}, format="json").status_code == 400
    assert head(org) == settled
    assert viewer.post(SETTINGS, {"loosening_requires_approval": True}, format="json").status_code == 403
    assert AuditEvent.objects.filter(organization=org).latest("seq").after == {
        "loosening_requires_approval": True, "denied": "permission"}


@pytest.mark.parametrize("body", ['{"x": 1}', '{"reason": 1}', "[]", '"approve"', "[" * 100 + "]" * 100,
                                  '{"x": "\\u0000"}', '{"x": 1e400}'])
def test_an_action_refuses_a_body_it_does_not_take_and_changes_nothing(org, owner, held, api, body):
    """Approve, withdraw, archive and revoke take no input: a body other than {} is a 400 naming
    the problem, never silently ignored (reject takes an optional reason, nothing else)."""
    approver = api(api_key_for(add_member(org, "owner")))
    ws = workspace(org, "Keep")
    spare, _ = org_services.api_key_create(actor=actor_for(owner.user), organization=org, name="spare")
    targets = [(approver, approve_url(held)), (api(api_key_for(owner)), approve_url(held, "withdraw")),
               (api(api_key_for(owner)), f"{ORGS}/workspaces/{ws.pk}/archive"),
               (api(api_key_for(owner)), f"{ORGS}/api_keys/{spare.pk}/revoke")]
    if body != '{"reason": 1}':
        targets.append((approver, approve_url(held, "reject")))
    else:
        refused = approver.post(approve_url(held, "reject"), body, content_type="application/json")
        assert refused.status_code == 400 and "reason" in refused.json()["error"]["message"]
    for client, url in targets:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content)
        assert response.json()["error"]["type"] == "invalid_request_error"
    held.refresh_from_db()
    ws.refresh_from_db()
    spare.refresh_from_db()
    assert (held.status, ws.archived_at, spare.status) == ("pending", None, "active")


def test_reject_records_its_reason_and_takes_no_body_or_an_empty_one(org, owner, held, api):
    approver = api(api_key_for(add_member(org, "owner")))
    response = approver.post(approve_url(held, "reject"), {"reason": "Not this quarter."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert "Not this quarter." in str(AuditEvent.objects.filter(organization=org).latest("seq").after)
    ws = workspace(org, "Gone")
    assert api(api_key_for(owner)).post(f"{ORGS}/workspaces/{ws.pk}/archive", {}, format="json").status_code == 200
