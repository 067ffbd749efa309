"""The organization data residency policy (SPEC §5), locks that respect plans (SPEC §2), and the
cost of a change before it is made: services, decisions and figures checked by hand."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Organization
from residency import services
from residency.models import DataResidencyPolicy
from residency.selectors import nonconforming_workspaces, policy_info, policy_of
from tests.factories import SYSTEM, actor_for, add_member, make_org, primary_owner
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

VIOLATION = "workspace_policy_violation"


def last_event(org):
    return AuditEvent.objects.filter(organization=org).order_by("-seq").first()


def events_since(org, seq):
    return list(AuditEvent.objects.filter(organization=org, seq__gt=seq).order_by("seq"))


def head(org):
    return AuditEvent.objects.filter(organization=org).order_by("-seq").values_list("seq", flat=True).first()


@pytest.fixture
def owner_actor(org, owner):
    return actor_for(owner.user)


def set_policy(actor, org, apply=False, **values):
    return services.data_residency_policy_set(actor=actor, organization=org, values=values, apply_to_workspaces=apply)


# --- the policy service ------------------------------------------------------------------------


def test_the_default_policy_changes_nothing(org, owner_actor):
    assert policy_of(org) is None and policy_info(None).allowed_inference_geos is None
    ws = services.workspace_create(actor=owner_actor, organization=org, name="New")
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": "unrestricted",
                                 "default_inference_geo": "global"}


def test_tightening_lists_nonconforming_workspaces_and_new_ones_start_inside(org, owner_actor):
    open_ws = workspace(org, "Open")
    us_ws = workspace(org, "US", allowed_inference_geos=["us"], default_inference_geo="us")
    seq = head(org)
    set_policy(owner_actor, org, allowed_inference_geos=["us"], default_inference_geo="us")
    (event,) = events_since(org, seq)  # no workspace was rewritten silently
    assert (event.action, event.actor_user_id, event.before, event.after) == (
        "data_residency_policy.updated", owner_actor.user.pk,
        {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"},
        {"allowed_inference_geos": ["us"], "default_inference_geo": "us", "apply_to_workspaces": False})
    assert [ws.pk for ws in nonconforming_workspaces(org, policy_info(policy_of(org)))] == [open_ws.pk]
    open_ws.refresh_from_db()
    assert open_ws.allowed_inference_geos is None
    new = services.workspace_create(actor=owner_actor, organization=org, name="New")
    assert (new.allowed_inference_geos, new.default_inference_geo) == (["us"], "us")
    assert us_ws.pk not in [ws.pk for ws in nonconforming_workspaces(org, policy_info(policy_of(org)))]


def test_apply_to_workspaces_brings_each_live_one_inside_with_one_event_each(org, owner_actor):
    open_ws = workspace(org, "Open")
    both = workspace(org, "Both", allowed_inference_geos=["global", "us"], default_inference_geo="global")
    inside = workspace(org, "Inside", allowed_inference_geos=["us"], default_inference_geo="us")
    gone = workspace(org, "Gone")
    services.workspace_archive(actor=owner_actor, workspace=gone)
    seq = head(org)
    set_policy(owner_actor, org, apply=True, allowed_inference_geos=["us"], default_inference_geo="us")
    for ws in (open_ws, both, inside, gone):
        ws.refresh_from_db()
    assert (open_ws.allowed_inference_geos, open_ws.default_inference_geo) == (["us"], "us")
    assert (both.allowed_inference_geos, both.default_inference_geo) == (["us"], "us")
    assert gone.allowed_inference_geos is None  # archived workspaces never change
    actions = [(e.action, e.target_id) for e in events_since(org, seq)]
    assert actions == [("workspace.updated", open_ws.pk), ("workspace.updated", both.pk),
                       ("data_residency_policy.updated", org.pk)]
    moved = events_since(org, seq)[1]
    assert moved.before == {"data_residency": {"allowed_inference_geos": ["global", "us"],
                                               "default_inference_geo": "global"}}
    assert moved.after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    assert nonconforming_workspaces(org, policy_info(policy_of(org))) == []
    assert verify_chain(org).ok


@pytest.mark.parametrize(("who", "error", "recorded"), [
    ("privacy_view", PermissionDenied, True), ("privacy_none", Http404, True), ("user", Http404, True),
    ("privacy_manage", None, False), ("owner", None, False),
])
def test_who_may_change_the_policy_and_refusals_are_audited(org, member_factory, who, error, recorded):
    member = member_factory(org, who)
    seq = head(org)
    if error is None:
        set_policy(actor_for(member.user), org, allowed_inference_geos=["us"], default_inference_geo="us")
        assert policy_of(org).allowed_inference_geos == ["us"]
        return
    with pytest.raises(error):
        set_policy(actor_for(member.user), org, allowed_inference_geos=["us"], default_inference_geo="us")
    assert policy_of(org) is None
    (event,) = events_since(org, seq)
    assert (event.action, event.outcome, event.actor_user_id) == (
        "data_residency_policy.change_denied", "denied", member.user_id)


def test_another_organizations_member_gets_404_and_nothing_is_recorded_here(org):
    stranger = primary_owner(make_org(name="Other"))
    seq = head(org)
    with pytest.raises(Http404):
        set_policy(actor_for(stranger.user), org, allowed_inference_geos=["us"], default_inference_geo="us")
    assert events_since(org, seq) == []


@pytest.mark.parametrize(("values", "field"), [
    ({"allowed_inference_geos": []}, "allowed_inference_geos"),
    ({"allowed_inference_geos": ["us", "us"]}, "allowed_inference_geos"),
    ({"allowed_inference_geos": ["eu"]}, "allowed_inference_geos"),
    ({"allowed_inference_geos": ["us"]}, "default_inference_geo"),  # the default global is outside
    ({"default_inference_geo": "mars"}, "default_inference_geo"),
    ({"allowed": ["us"]}, "allowed"),
])
def test_invalid_policies_are_refused_and_nothing_is_recorded(org, owner_actor, values, field):
    seq = head(org)
    with pytest.raises(ValidationError) as exc:
        set_policy(owner_actor, org, **values)
    assert field in exc.value.message_dict
    assert events_since(org, seq) == [] and policy_of(org) is None


def test_a_locked_policy_is_refused_to_everyone_and_only_staff_unlock_it(org, owner, owner_actor):
    with pytest.raises(PermissionDenied):
        services.data_residency_policy_lock_set(actor=owner_actor, organization=org, locked=True, reason="mine")
    with pytest.raises(ValidationError):
        services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason=" ")
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason="Contract 2026-12")
    lock = last_event(org)
    assert (lock.action, lock.after) == ("data_residency_policy.lock_changed",
                                         {"lock_reason": "contract", "reason": "Contract 2026-12"})
    for who in (owner_actor, actor_for(add_member(org, "privacy_manage").user)):
        seq = head(org)
        with pytest.raises(PermissionDenied):
            set_policy(who, org, allowed_inference_geos=["us"], default_inference_geo="us")
        (event,) = events_since(org, seq)
        assert event.outcome == "denied" and event.after["denied"] == "locked:contract"
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=False, reason="Contract ended")
    set_policy(owner_actor, org, allowed_inference_geos=["us"], default_inference_geo="us")


# --- workspaces inside the policy, in every path ------------------------------------------------


def test_workspace_create_and_update_outside_the_policy_are_refused_naming_it(org, owner_actor):
    ws = workspace(org, "Inside", allowed_inference_geos=["us"], default_inference_geo="us")
    set_policy(owner_actor, org, allowed_inference_geos=["us"], default_inference_geo="us")
    seq = head(org)
    for residency, field in [({"allowed_inference_geos": "unrestricted"}, "allowed_inference_geos"),
                             ({"allowed_inference_geos": ["global", "us"]}, "allowed_inference_geos")]:
        with pytest.raises(ValidationError) as exc:
            services.workspace_create(actor=owner_actor, organization=org, name="Out", data_residency=residency)
        assert exc.value.details == {"error_code": VIOLATION, "field": field}
        assert "organization's data residency policy" in str(exc.value)
        with pytest.raises(ValidationError) as exc:
            services.workspace_update(actor=owner_actor, workspace=ws, data_residency=residency)
        assert exc.value.details["field"] == field
    assert events_since(org, seq) == []
    services.workspace_update(actor=owner_actor, workspace=ws, name="Renamed")  # not a residency change


# --- locks and plans (SPEC §2) ------------------------------------------------------------------


@pytest.mark.parametrize("plan", ["team", "enterprise_seat"])
def test_a_lock_exists_only_on_the_usage_plan(plan):
    with pytest.raises(ValidationError) as exc:
        services.organization_provision(actor=SYSTEM, name="T", plan=plan, owner_email="t@t.test",
                                        lock_reason="contract")
    assert "usage-based Enterprise" in str(exc.value) and not Organization.objects.filter(name="T").exists()
    org = make_org(plan=plan)
    with pytest.raises(ValidationError):
        services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason="contract", reason="deal")
    org.refresh_from_db()
    assert org.lock_reason is None


def test_a_locked_organizations_plan_cannot_change_until_staff_remove_the_lock():
    org = make_org(lock_reason="contract")
    with pytest.raises(ValidationError) as exc:
        services.organization_terms_update(actor=SYSTEM, organization=org, plan="team")
    assert "remove the lock" in str(exc.value)
    services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason=None, reason="Contract ended")
    services.organization_terms_update(actor=SYSTEM, organization=org, plan="team")
    org.refresh_from_db()
    assert (org.plan, org.lock_reason, org.us_only_inference) == ("team", None, False)


def test_staff_add_a_contract_lock_to_an_existing_organization_with_a_reason(org, owner_actor):
    services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason="contract",
                                       reason="Signed US-only addendum")
    org.refresh_from_db()
    assert (org.lock_reason, org.us_only_inference) == ("contract", True)
    event = last_event(org)
    assert (event.action, event.after) == ("inference_residency.locked", {
        "us_only": True, "lock_reason": "contract", "reason": "Signed US-only addendum"})
    with pytest.raises(PermissionDenied):
        services.inference_residency_set(actor=owner_actor, organization=org, us_only=False)


def test_flagging_a_legacy_opt_out_applies_the_migrated_state_at_once(org, owner_actor):
    ws = workspace(org, "Open")
    services.organization_terms_update(actor=SYSTEM, organization=org, legacy_opt_out=True,
                                       reason="Opted out in 2024")
    org.refresh_from_db()
    ws.refresh_from_db()
    assert (org.lock_reason, org.us_only_inference) == ("legacy_opt_out", True)
    assert policy_of(org).allowed_inference_geos == ["us"] and not policy_of(org).locked
    assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")


def test_a_legacy_opt_out_lock_added_by_staff_is_a_legacy_opt_out(org, owner_actor):
    """Staff choosing the legacy_opt_out lock (the admin's lock select offers it) get what flagging
    the legacy opt-out gives: the flag, the policy and every workspace in the US, at once."""
    ws = workspace(org, "Open")
    services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason="legacy_opt_out",
                                       reason="Opted out in 2024")
    org.refresh_from_db()
    ws.refresh_from_db()
    assert (org.lock_reason, org.legacy_opt_out, org.us_only_inference) == ("legacy_opt_out", True, True)
    assert policy_of(org).allowed_inference_geos == ["us"]
    assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")


def test_bootstrap_legacy_and_lock_imply_each_other_on_the_usage_plan():
    org, _ = services.organization_provision(actor=SYSTEM, name="L", plan="enterprise_usage",
                                             owner_email="l@l.test", lock_reason="legacy_opt_out")
    assert org.legacy_opt_out and DataResidencyPolicy.objects.get(organization=org).allowed_inference_geos == ["us"]
    team, _ = services.organization_provision(actor=SYSTEM, name="M", plan="team", owner_email="m@m.test",
                                              legacy_opt_out=True)
    assert team.lock_reason is None and policy_of(team).allowed_inference_geos == ["us"]


# --- decisions within the policy (REST single and batch) -----------------------------------------


def test_decisions_are_bounded_by_the_policy_in_one_statement(org, owner, owner_actor, api, key_for,
                                                              django_assert_num_queries):
    open_ws = workspace(org, "Open")
    set_policy(owner_actor, org, allowed_inference_geos=["us"], default_inference_geo="us")
    client = api(key_for(owner))
    client.post("/v1/residency/decisions", {"workspace_id": "x", "model": "x"}, format="json")  # last_used_at
    with django_assert_num_queries(1):
        answer = client.post("/v1/residency/decisions", {"workspace_id": open_ws.pk, "model": "claude-opus-4-6"},
                             format="json")
    assert answer.json()["routing_geo"] == "us"
    refused = client.post("/v1/residency/decisions", {"workspace_id": open_ws.pk, "model": "claude-opus-4-6",
                                                      "inference_geo": "global"}, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "organization's data residency policy" in error["message"]
    assert error["details"] == {"error_code": VIOLATION, "field": "allowed_inference_geos"}
    batch = client.post("/v1/residency/decisions/batch", {"requests": [
        {"custom_id": "a", "params": {"workspace_id": open_ws.pk, "model": "claude-opus-4-6"}},
        {"custom_id": "b", "params": {"workspace_id": open_ws.pk, "model": "claude-opus-4-6",
                                      "inference_geo": "global"}}]}, format="json").json()["results"]
    assert batch[0]["result"]["routing_geo"] == "us"
    assert batch[1]["result"]["error"]["details"] == {"error_code": VIOLATION, "field": "allowed_inference_geos"}


# --- the cost of a change before it is made (figures by hand) ------------------------------------


def ingest(org, owner, rows):
    when = (timezone.now() - timedelta(days=1)).isoformat()
    records = [{"id": f"r{i}", "occurred_at": when, **row} for i, row in enumerate(rows)]
    services.usage_ingest(actor=actor_for(owner.user), organization=org, records=records)


@pytest.fixture
def usage(org, owner):
    ws = workspace(org, "Prod")
    ingest(org, owner, [
        # $5.00: 1M input on Opus 4.6 in global
        {"workspace_id": ws.pk, "model": "claude-opus-4-6", "inference_geo": "global", "service_tier": "standard",
         "uncached_input_tokens": 1_000_000},
        # $1.00: an older model, priced the same wherever it ran
        {"workspace_id": ws.pk, "model": "claude-haiku-4-5", "inference_geo": "not_available",
         "service_tier": "standard", "uncached_input_tokens": 1_000_000},
        # batch halves input and output: 2M x $3 / 2 + 1M x $15 / 2 = $10.50
        {"workspace_id": ws.pk, "model": "claude-sonnet-4-6", "inference_geo": "global", "service_tier": "batch",
         "uncached_input_tokens": 2_000_000, "output_tokens": 1_000_000},
        # the Claude apps: 1M output on Opus 4.6 in global = $25.00
        {"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "global", "service_tier": "standard",
         "output_tokens": 1_000_000},
    ])
    return ws


def impact(actor, org, change, days=30):
    return services.residency_impact_estimate(actor=actor, organization=org, change=change, days=days).as_json()


def test_impact_of_us_only_prices_apps_usage_in_us(org, owner_actor, usage):
    result = impact(owner_actor, org, {"us_only": True})
    assert (result["current_cost"], result["projected_cost"], result["delta"]) == ("4150", "4400", "250")
    assert result["type"] == "residency_impact" and result["currency"] == "USD"


def test_impact_of_a_policy_prices_api_usage_of_newer_models_in_us(org, owner_actor, usage):
    result = impact(owner_actor, org, {"data_residency_policy": {"allowed_inference_geos": ["us"],
                                                                 "default_inference_geo": "us"}})
    # Opus $5.00 -> $5.50 and the batch $10.50 -> $11.55; the older model and the apps stay
    assert (result["current_cost"], result["projected_cost"], result["delta"]) == ("4150", "4305", "155")


def test_impact_of_a_workspace_change(org, owner_actor, usage):
    result = impact(owner_actor, org, {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"}}})
    assert result["delta"] == "155"
    unchanged = impact(owner_actor, org, {"workspace": {"id": usage.pk, "data_residency": {
        "allowed_inference_geos": ["global", "us"]}}})
    assert unchanged["delta"] == "0"


def test_a_locked_organization_pays_no_uplift_on_apps_usage(owner):
    org = make_org(name="Locked", lock_reason="contract")
    boss = primary_owner(org)
    ingest(org, boss, [{"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "us",
                        "service_tier": "standard", "output_tokens": 1_000_000}])
    result = impact(actor_for(boss.user), org, {"us_only": True})
    assert (result["current_cost"], result["projected_cost"], result["delta"]) == ("2500", "2500", "0")


def test_impact_outside_the_window_and_permissions(org, owner, owner_actor, member_factory, usage):
    assert impact(owner_actor, org, {"us_only": True}, days=1)["current_cost"] == "0"  # yesterday is outside
    for who, error in [("privacy_view", Http404), ("auditor", Http404)]:
        with pytest.raises(error):
            impact(actor_for(member_factory(org, who).user), org, {"us_only": True})
    both = add_member(org, "owner")
    assert impact(actor_for(both.user), org, {"us_only": True})["delta"] == "250"
    for change, days in [({}, 30), ({"us_only": "yes"}, 30), ({"us_only": True, "workspace": {}}, 30),
                         ({"us_only": True}, 0), ({"us_only": True}, 91)]:
        with pytest.raises(ValidationError):
            impact(owner_actor, org, change, days)


# --- every surface refuses a workspace outside the policy ------------------------------------


@pytest.fixture
def us_policy(org, owner_actor):
    set_policy(owner_actor, org, allowed_inference_geos=["us"], default_inference_geo="us")


def test_rest_create_and_update_outside_the_policy_are_400_with_details(org, owner, us_policy, api, key_for):
    client = api(key_for(owner))
    seq = head(org)  # after the key's own creation event
    response = client.post("/v1/organizations/workspaces", {"name": "Out", "data_residency": {
        "allowed_inference_geos": ["global", "us"]}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"error_code": VIOLATION, "field": "allowed_inference_geos"}
    created = client.post("/v1/organizations/workspaces", {"name": "In"}, format="json").json()
    assert created["data_residency"]["allowed_inference_geos"] == ["us"]
    response = client.post(f"/v1/organizations/workspaces/{created['id']}", {"data_residency": {
        "allowed_inference_geos": "unrestricted"}}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["error_code"] == VIOLATION
    assert [e.action for e in events_since(org, seq)] == ["workspace.created"]  # the refusals recorded nothing


def test_console_update_outside_the_policy_is_refused(org, owner, us_policy, console):
    ws = services.workspace_create(actor=actor_for(owner.user), organization=org, name="In")
    response = console(owner.user).post(f"/workspaces/{ws.pk}/", {
        "name": "In", "allowed_mode": "unrestricted", "default_inference_geo": "us"})
    assert response.status_code == 400
    assert "organization" in response.content.decode() and "policy" in response.content.decode()
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]


def test_admin_create_outside_the_policy_is_refused(org, us_policy, client):
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(email="staff@platform.test", is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:orgs_workspace_add"), {
        "organization": org.pk, "name": "Out", "workspace_geo": "us", "allowed_inference_geos": "unrestricted",
        "default_inference_geo": "global"})
    assert response.status_code == 200 and "policy" in response.content.decode()
    assert not org.workspaces.filter(name="Out").exists()


@pytest.mark.parametrize("allowed, default, message", [
    ("unrestricted", "us", "allowed_inference_geos must stay within the organization's data residency policy (us); "
                           "unrestricted is not."),
    ("global, us", "us", "allowed_inference_geos must stay within the organization's data residency policy (us); "
                         "global, us is not."),
])
def test_admin_update_outside_the_policy_is_refused_on_the_form_and_changes_nothing(org, owner, us_policy, client,
                                                                                    allowed, default, message):
    from django.urls import reverse

    from tests.factories import UserFactory

    ws = services.workspace_create(actor=actor_for(owner.user), organization=org, name="In")
    before = org.workspaces.values("name", "allowed_inference_geos", "default_inference_geo").get(pk=ws.pk)
    assert before == {"name": "In", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    seq = head(org)
    staff = UserFactory(email="staff@platform.test", is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = reverse("admin:orgs_workspace_change", args=[ws.pk])
    response = client.post(url, {"name": "Renamed", "allowed_inference_geos": allowed,
                                 "default_inference_geo": default})
    assert response.status_code == 200  # the form again, not a redirect to the list
    form = response.context["adminform"].form
    assert message in " ".join(str(e) for errors in form.errors.values() for e in errors), form.errors
    assert message.replace("'", "&#x27;") in response.content.decode()  # shown on the page
    assert org.workspaces.values("name", "allowed_inference_geos", "default_inference_geo").get(pk=ws.pk) == before
    assert events_since(org, seq) == []  # refused as the services refuse: nothing recorded
    assert verify_chain(org).ok
    # a change within the policy, on the same form, goes through the service and is audited as such
    response = client.post(url, {"name": "Renamed", "allowed_inference_geos": "us", "default_inference_geo": "us"})
    assert response.status_code == 302
    [event] = events_since(org, seq)
    assert (event.action, event.outcome, event.source, event.actor_user_id, event.target_id) == (
        "workspace.updated", "success", "admin", str(staff.pk), ws.pk)
    assert event.before == {"name": "In"} and event.after == {"name": "Renamed"}
