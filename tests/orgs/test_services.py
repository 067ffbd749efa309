"""Every service: the change it makes, the audit record it writes, and what it refuses."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from audit.models import AuditEvent
from orgs import services
from orgs.models import ApiKey, Membership, Organization, Role, Workspace
from residency import services as residency_services
from tests.factories import SYSTEM, actor_for, add_member, make_org, primary_owner

pytestmark = pytest.mark.django_db


def events(org):
    return list(AuditEvent.objects.filter(organization=org).order_by("seq"))


def last_event(org):
    return AuditEvent.objects.filter(organization=org).order_by("-seq").first()


def assert_unchanged(org, count_before):
    assert AuditEvent.objects.filter(organization=org).count() == count_before


# --- organizations ---------------------------------------------------------------------------


def test_organization_create_makes_primary_owner_and_audits():
    org, membership = services.organization_create(
        actor=SYSTEM, name="Globex", plan="enterprise_usage", owner_email="Boss@Globex.test"
    )
    assert membership.role_id == "primary_owner"
    assert membership.user.email == "boss@globex.test"
    created, added = events(org)
    assert (created.action, created.actor_type, created.actor_label, created.source) == (
        "organization.created", "system", "tests", "command")
    assert created.after == {"name": "Globex", "plan": "enterprise_usage", "us_only": False,
                             "lock_reason": None, "legacy_opt_out": False}
    assert added.action == "member.added" and added.after == {"email": "boss@globex.test", "role": "primary_owner"}


def test_organization_create_with_lock_is_us_only_on():
    org, _ = residency_services.organization_provision(actor=SYSTEM, name="L", plan="enterprise_usage",
                                                       owner_email="l@l.test", lock_reason="contract")
    assert org.us_only_inference and org.locked


@pytest.mark.parametrize("kwargs,field", [
    ({"name": "", "plan": "team", "owner_email": "a@b.test"}, "name"),
    ({"name": "X", "plan": "free", "owner_email": "a@b.test"}, "plan"),
    ({"name": "X", "plan": "team", "owner_email": "nope"}, "owner_email"),
    ({"name": "X", "plan": "team", "owner_email": "a@b.test", "lock_reason": "vibes"}, "lock_reason"),
])
def test_organization_create_bad_input_changes_nothing(kwargs, field):
    before = Organization.objects.count()
    with pytest.raises(ValidationError) as exc:
        residency_services.organization_provision(actor=SYSTEM, **kwargs)
    assert field in exc.value.message_dict
    assert Organization.objects.count() == before


def test_members_cannot_create_organizations(org, owner):
    with pytest.raises(PermissionDenied):
        services.organization_create(actor=actor_for(owner.user), name="Mine", plan="team", owner_email="x@y.test")


def test_a_lock_is_lifted_only_by_platform_staff_with_a_reason(org, owner):
    """SPEC §2 (superseding the earlier "a lock can never be lifted"): staff remove a lock in
    the Django admin, giving a reason, audited; nobody else can."""
    org = make_org(lock_reason="contract")
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(ValidationError) as exc:
        residency_services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason=None)
    assert "reason" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        residency_services.organization_terms_update(actor=actor_for(primary_owner(org).user), organization=org,
                                                     lock_reason=None, reason="please")
    org.refresh_from_db()
    assert org.lock_reason == "contract" and org.us_only_inference
    assert_unchanged(org, n)
    residency_services.organization_terms_update(actor=SYSTEM, organization=org, lock_reason=None,
                                                 reason="Contract amended 2026-11-30")
    org.refresh_from_db()
    assert org.lock_reason is None and org.us_only_inference  # unlocked, still on until someone turns it off
    event = last_event(org)
    assert (event.action, event.before, event.after) == (
        "inference_residency.unlocked", {"lock_reason": "contract"},
        {"lock_reason": None, "reason": "Contract amended 2026-11-30"})


def test_leaving_the_usage_plan_turns_unlocked_us_only_off(org, owner):
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    residency_services.organization_terms_update(actor=SYSTEM, organization=org, plan="enterprise_seat")
    org.refresh_from_db()
    assert not org.us_only_inference
    event = last_event(org)
    assert event.action == "organization.updated"
    assert event.before == {"plan": "enterprise_usage", "us_only": True}
    assert event.after == {"plan": "enterprise_seat", "us_only": False}


def test_owner_cannot_change_plan(org, owner):
    with pytest.raises(PermissionDenied):
        residency_services.organization_terms_update(actor=actor_for(owner.user), organization=org, plan="team")


# --- US-only inference -----------------------------------------------------------------------


def test_owner_turns_us_only_on_and_off_audited_with_role_and_origin(org, owner):
    actor = actor_for(owner.user)
    actor.ip, actor.request_id = "203.0.113.9", "req_abc"
    residency_services.inference_residency_set(actor=actor, organization=org, us_only=True)
    org.refresh_from_db()
    assert org.us_only_inference
    event = last_event(org)
    assert (event.action, event.outcome, event.before, event.after) == (
        "inference_residency.updated", "success", {"us_only": False}, {"us_only": True})
    assert (event.actor_user_id, event.actor_role, event.ip, event.request_id, event.source) == (
        owner.user_id, "Primary owner", "203.0.113.9", "req_abc", "console")
    residency_services.inference_residency_set(actor=actor, organization=org, us_only=False)
    assert last_event(org).after == {"us_only": False}


def test_setting_the_same_value_records_nothing(org, owner):
    n = AuditEvent.objects.filter(organization=org).count()
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    assert_unchanged(org, n)


def test_privacy_view_is_denied_with_403_and_the_attempt_is_audited(org):
    viewer = add_member(org, "privacy_view")
    with pytest.raises(PermissionDenied) as exc:
        residency_services.inference_residency_set(actor=actor_for(viewer.user), organization=org, us_only=True)
    assert "Privacy: Can manage" in str(exc.value)
    org.refresh_from_db()
    assert not org.us_only_inference
    event = last_event(org)
    assert (event.action, event.outcome, event.actor_user_id, event.actor_role) == (
        "inference_residency.change_denied", "denied", viewer.user_id, "privacy_view")
    assert event.after == {"us_only": True, "denied": "permission"}


def test_privacy_none_gets_404_and_the_attempt_is_audited(org):
    member = add_member(org, "user")
    with pytest.raises(Http404):
        residency_services.inference_residency_set(actor=actor_for(member.user), organization=org, us_only=True)
    assert last_event(org).outcome == "denied"


def test_custom_privacy_manage_may_change_it(org):
    manager = add_member(org, "privacy_manage")
    residency_services.inference_residency_set(actor=actor_for(manager.user), organization=org, us_only=True)
    org.refresh_from_db()
    assert org.us_only_inference


@pytest.mark.parametrize("plan", ["team", "enterprise_seat"])
def test_the_setting_does_not_exist_on_other_plans(plan):
    org = make_org(plan=plan)
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(Http404) as exc:
        residency_services.inference_residency_set(actor=actor_for(primary_owner(org).user), organization=org, us_only=True)
    assert "usage-based Enterprise" in str(exc.value)
    assert_unchanged(org, n)


@pytest.mark.parametrize("reason", ["legacy_opt_out", "contract"])
def test_locked_setting_cannot_be_turned_off_even_by_the_primary_owner(reason):
    org = make_org(lock_reason=reason)
    with pytest.raises(PermissionDenied) as exc:
        residency_services.inference_residency_set(actor=actor_for(primary_owner(org).user), organization=org, us_only=False)
    assert "locked" in str(exc.value) and "pricing terms" in str(exc.value)
    org.refresh_from_db()
    assert org.us_only_inference
    event = last_event(org)
    assert event.outcome == "denied" and event.after["denied"] == f"locked:{reason}"


def test_non_boolean_is_a_clear_error(org, owner):
    with pytest.raises(ValidationError) as exc:
        residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only="yes")
    assert exc.value.message_dict == {"us_only": ["Must be true or false."]}


def test_another_organizations_member_gets_404(org):
    stranger = primary_owner(make_org(name="Other"))
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(Http404):
        residency_services.inference_residency_set(actor=actor_for(stranger.user), organization=org, us_only=True)
    assert_unchanged(org, n)


# --- members and roles -----------------------------------------------------------------------


def test_member_add_and_role_change_and_remove_are_audited(org, owner):
    actor = actor_for(owner.user)
    m = services.member_add(actor=actor, organization=org, email="New@Acme.test", role_id="user")
    assert last_event(org).after == {"email": "new@acme.test", "role": "user"}
    services.member_change_role(actor=actor, membership=m, role_id="admin")
    e = last_event(org)
    assert (e.action, e.before, e.after, e.target_id) == ("member.role_changed", {"role": "user"}, {"role": "admin"}, m.user_id)
    services.member_remove(actor=actor, membership=m)
    e = last_event(org)
    assert (e.action, e.before, e.after) == ("member.removed", {"email": "new@acme.test", "role": "admin"}, None)
    assert not Membership.objects.filter(pk=m.pk).exists()


def test_a_second_primary_owner_is_refused(org, owner):
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(ValidationError) as exc:
        services.member_add(actor=actor_for(owner.user), organization=org, email="x@y.test", role_id="primary_owner")
    assert "transfer" in str(exc.value)
    assert Membership.objects.filter(organization=org, role_id="primary_owner").count() == 1
    assert_unchanged(org, n)


def test_primary_owner_role_cannot_be_changed_or_removed(org, owner):
    other_owner = add_member(org, "owner")
    with pytest.raises(ValidationError):
        services.member_change_role(actor=actor_for(other_owner.user), membership=owner, role_id="user")
    with pytest.raises(ValidationError):
        services.member_remove(actor=actor_for(other_owner.user), membership=owner)
    assert Membership.objects.get(pk=owner.pk).role_id == "primary_owner"


def test_transfer_primary_ownership(org, owner):
    heir = add_member(org, "owner")
    services.member_change_role(actor=actor_for(owner.user), membership=heir, role_id="primary_owner")
    roles = dict(Membership.objects.filter(organization=org).values_list("user_id", "role_id"))
    assert roles[heir.user_id] == "primary_owner" and roles[owner.user_id] == "owner"
    e = last_event(org)
    assert e.action == "primary_owner.transferred"
    assert e.after["primary_owner"] == heir.user.email


def test_only_the_primary_owner_transfers(org, owner):
    other_owner = add_member(org, "owner")
    target = add_member(org, "user")
    with pytest.raises(PermissionDenied):
        services.primary_owner_transfer(actor=actor_for(other_owner.user), organization=org, to_membership=target)


def test_admin_cannot_grant_owner_or_demote_an_owner(org):
    admin = add_member(org, "admin")
    some_owner = add_member(org, "owner")
    with pytest.raises(PermissionDenied):
        services.member_add(actor=actor_for(admin.user), organization=org, email="z@z.test", role_id="owner")
    with pytest.raises(PermissionDenied):
        services.member_change_role(actor=actor_for(admin.user), membership=some_owner, role_id="user")
    assert services.member_add(actor=actor_for(admin.user), organization=org, email="u@z.test", role_id="user")


def test_unknown_role_is_a_clear_error(org, owner):
    with pytest.raises(ValidationError) as exc:
        services.member_add(actor=actor_for(owner.user), organization=org, email="x@y.test", role_id="superuser")
    assert "Unknown role 'superuser'" in exc.value.message_dict["role"][0]


def test_another_orgs_custom_role_cannot_be_used(org, owner):
    other = make_org(name="Other")
    foreign = services.role_create(actor=actor_for(primary_owner(other).user), organization=other,
                                   name="Theirs", permissions={"privacy": "view"})
    with pytest.raises(ValidationError):
        services.member_add(actor=actor_for(owner.user), organization=org, email="x@y.test", role_id=foreign.pk)


def test_custom_role_create_fills_missing_areas_with_none_and_audits(org, owner):
    role = services.role_create(actor=actor_for(owner.user), organization=org, name="Privacy lead",
                                permissions={"privacy": "manage", "audit_log": "view"})
    assert role.permissions == {"identity_access": "none", "billing": "none", "analytics": "none", "privacy": "manage",
                                "user_management": "none", "libraries": "none", "audit_log": "view"}
    e = last_event(org)
    assert (e.action, e.after["name"], e.after["permissions"]["privacy"]) == ("role.created", "Privacy lead", "manage")


@pytest.mark.parametrize("permissions,needle", [
    ({"telepathy": "view"}, "unknown area 'telepathy'"),
    ({"privacy": "admin"}, "privacy: level 'admin' is not allowed"),
    ({"audit_log": "manage"}, "audit_log: level 'manage' is not allowed; use one of none, view"),
])
def test_custom_role_bad_area_or_level_changes_nothing(org, owner, permissions, needle):
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(ValidationError) as exc:
        services.role_create(actor=actor_for(owner.user), organization=org, name="Bad", permissions=permissions)
    assert needle in str(exc.value)
    assert not Role.objects.filter(organization=org).exists()
    assert_unchanged(org, n)


def test_custom_roles_need_an_enterprise_plan():
    org = make_org(plan="team")
    with pytest.raises(PermissionDenied) as exc:
        services.role_create(actor=actor_for(primary_owner(org).user), organization=org, name="R", permissions={})
    assert "Enterprise" in str(exc.value)


def test_role_update_changes_every_holders_access_at_once(org, owner):
    holder = add_member(org, "privacy_view")
    role = holder.role
    services.role_update(actor=actor_for(owner.user), role=role, permissions={"privacy": "manage"})
    residency_services.inference_residency_set(actor=actor_for(holder.user), organization=org, us_only=True)
    e = AuditEvent.objects.filter(organization=org, action="role.updated").get()
    assert e.before["permissions"]["privacy"] == "view" and e.after["permissions"]["privacy"] == "manage"


def test_builtin_roles_cannot_be_edited(org, owner):
    with pytest.raises(ValidationError):
        services.role_update(actor=actor_for(owner.user), role=Role.objects.get(pk="owner"), name="Boss")


# --- API keys --------------------------------------------------------------------------------


def test_api_key_is_stored_hashed_and_audited(org, owner):
    key, secret = services.api_key_create(actor=actor_for(owner.user), organization=org, name="ci-bot")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.key_hash, stored.key_hint) and len(stored.key_hash) == 64
    assert stored.key_hash == services.hash_api_key(secret)
    e = last_event(org)
    assert (e.action, e.after) == ("api_key.created", {"name": "ci-bot", "user_id": owner.user_id, "hint": secret[-4:]})
    assert secret not in str(e.after)


def test_members_create_keys_only_for_themselves_unless_identity_manage(org, owner):
    user = add_member(org, "user")
    with pytest.raises(PermissionDenied):
        services.api_key_create(actor=actor_for(user.user), organization=org, name="x", membership=owner)
    key, _ = services.api_key_create(actor=actor_for(owner.user), organization=org, name="for-user", membership=user)
    assert key.membership_id == user.pk


def test_revoked_key_stops_working_at_once(org, owner, api, key_for):
    secret = key_for(owner)
    assert api(secret).get("/v1/organizations/me").status_code == 200
    key = ApiKey.objects.get(key_hash=services.hash_api_key(secret))
    services.api_key_revoke(actor=actor_for(owner.user), api_key=key)
    assert api(secret).get("/v1/organizations/me").status_code == 401
    e = last_event(org)
    assert (e.action, e.before, e.after) == ("api_key.revoked", {"status": "active"}, {"status": "archived"})


def test_only_owner_of_key_or_identity_manage_revokes(org, owner):
    user = add_member(org, "user")
    key, _ = services.api_key_create(actor=actor_for(owner.user), organization=org, name="owner-key")
    with pytest.raises(PermissionDenied):
        services.api_key_revoke(actor=actor_for(user.user), api_key=key)


def test_key_use_records_last_used(org, owner, api, key_for):
    secret = key_for(owner)
    api(secret).get("/v1/organizations/me")
    assert ApiKey.objects.get(key_hash=services.hash_api_key(secret)).last_used_at is not None


def test_removing_a_member_kills_their_keys(org, owner, api, key_for):
    user = add_member(org, "user")
    secret = key_for(user)
    services.member_remove(actor=actor_for(owner.user), membership=user)
    assert api(secret).get("/v1/organizations/me").status_code == 401


# --- workspaces ------------------------------------------------------------------------------


def test_workspace_create_defaults_and_id_shape(org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    assert ws.id.startswith("wrkspc_") and len(ws.id) > 20 and ws.id[7:].isalnum()
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": "unrestricted",
                                 "default_inference_geo": "global"}
    e = last_event(org)
    assert (e.action, e.after["data_residency"]) == ("workspace.created", ws.data_residency)


def test_workspace_geo_can_never_change(org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(ValidationError) as exc:
        residency_services.workspace_update(actor=actor_for(owner.user), workspace=ws, data_residency={"workspace_geo": "us"})
    assert "data_residency.workspace_geo" in exc.value.message_dict
    assert_unchanged(org, n)


def test_default_geo_outside_allowed_list_is_refused(org, owner):
    with pytest.raises(ValidationError) as exc:
        residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W",
                                  data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "global"})
    assert "not in allowed_inference_geos (us)" in exc.value.message_dict["data_residency.default_inference_geo"][0]
    assert not Workspace.objects.filter(organization=org).exists()


def test_partial_update_merges_and_audits_only_the_difference(org, owner):
    actor = actor_for(owner.user)
    ws = residency_services.workspace_create(actor=actor, organization=org, name="Prod")
    residency_services.workspace_update(actor=actor, workspace=ws,
                              data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    e = last_event(org)
    assert e.before == {"data_residency": {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}}
    assert e.after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    with pytest.raises(ValidationError) as exc:
        residency_services.workspace_update(actor=actor, workspace=ws, data_residency={"allowed_inference_geos": ["global"]})
    assert "send default_inference_geo too" in str(exc.value)


@pytest.mark.parametrize("residency,field", [
    ({"allowed_inference_geos": []}, "allowed_inference_geos"),
    ({"allowed_inference_geos": ["us", "us"]}, "allowed_inference_geos"),
    ({"allowed_inference_geos": ["mars"]}, "allowed_inference_geos"),
    ({"allowed_inference_geos": "everywhere"}, "allowed_inference_geos"),
    ({"default_inference_geo": "eu"}, "default_inference_geo"),
    ({"workspace_geo": "global"}, "workspace_geo"),
    ({"colour": "blue"}, "colour"),
])
def test_workspace_residency_validation_names_the_field(org, owner, residency, field):
    with pytest.raises(ValidationError) as exc:
        residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W", data_residency=residency)
    assert f"data_residency.{field}" in exc.value.message_dict


def test_the_101st_active_workspace_is_refused(org, owner):
    actor = actor_for(owner.user)
    Workspace.objects.bulk_create(Workspace(organization=org, name=f"W{i}") for i in range(100))
    n = AuditEvent.objects.filter(organization=org).count()
    with pytest.raises(ValidationError) as exc:
        residency_services.workspace_create(actor=actor, organization=org, name="One too many")
    assert "100 active workspaces" in str(exc.value) and "archive one" in str(exc.value)
    assert Workspace.objects.filter(organization=org).count() == 100
    assert_unchanged(org, n)
    residency_services.workspace_archive(actor=actor, workspace=Workspace.objects.filter(organization=org).first())
    assert residency_services.workspace_create(actor=actor, organization=org, name="Now it fits")


def test_archived_workspace_cannot_change(org, owner):
    actor = actor_for(owner.user)
    ws = residency_services.workspace_create(actor=actor, organization=org, name="Old")
    residency_services.workspace_archive(actor=actor, workspace=ws)
    assert last_event(org).action == "workspace.archived"
    with pytest.raises(ValidationError):
        residency_services.workspace_update(actor=actor, workspace=ws, name="New")


def test_workspace_admin_may_manage_only_that_workspace(org, owner):
    actor = actor_for(owner.user)
    mine = residency_services.workspace_create(actor=actor, organization=org, name="Mine")
    other = residency_services.workspace_create(actor=actor, organization=org, name="Other")
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor, workspace=mine, membership=delegate, admin=True)
    residency_services.workspace_update(actor=actor_for(delegate.user), workspace=mine,
                                        data_residency={"default_inference_geo": "us"})
    with pytest.raises(Http404):
        residency_services.workspace_update(actor=actor_for(delegate.user), workspace=other, name="Hijacked")


def test_view_only_workspace_change_is_denied_and_audited(org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    viewer = add_member(org, "privacy_view")
    with pytest.raises(PermissionDenied):
        residency_services.workspace_update(actor=actor_for(viewer.user), workspace=ws,
                                            data_residency={"default_inference_geo": "us"})
    e = last_event(org)
    assert (e.action, e.outcome, e.actor_user_id) == ("workspace.residency_change_denied", "denied", viewer.user_id)
    ws.refresh_from_db()
    assert ws.default_inference_geo == "global"
