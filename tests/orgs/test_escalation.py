"""Privilege escalations found in review: each must be refused, change nothing, and say why."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from django.urls import reverse

from audit.models import AuditEvent
from orgs import services
from orgs.models import ApiKey, Membership, Role
from residency import services as residency_services
from tests.factories import actor_for, add_member, make_org, primary_owner

pytestmark = pytest.mark.django_db


def test_a_custom_role_cannot_be_raised_above_its_editor(org):
    identity = add_member(org, "identity_manage")
    with pytest.raises(PermissionDenied) as exc:
        services.role_update(actor=actor_for(identity.user), role=identity.role, permissions={"privacy": "manage"})
    assert "privacy manage (you have none)" in str(exc.value)
    assert Role.objects.get(pk=identity.role_id).privacy == "none"
    with pytest.raises(PermissionDenied):
        services.role_create(actor=actor_for(identity.user), organization=org, name="Sneaky",
                             permissions={"identity_access": "manage", "privacy": "manage"})
    assert not Role.objects.filter(name="Sneaky").exists()


def test_a_role_with_more_access_than_the_editor_cannot_be_changed_by_them(org):
    identity = add_member(org, "identity_manage")
    stronger = add_member(org, "privacy_manage").role
    with pytest.raises(PermissionDenied):
        services.role_update(actor=actor_for(identity.user), role=stronger, name="Renamed")


def test_owners_still_create_any_custom_role(org, owner):
    role = services.role_create(actor=actor_for(owner.user), organization=org, name="All", permissions={
        "identity_access": "manage", "privacy": "manage", "audit_log": "view"})
    assert role.privacy == "manage"


def test_no_key_for_a_member_with_more_access_than_the_creator(org, owner):
    identity = add_member(org, "identity_manage")
    with pytest.raises(PermissionDenied) as exc:
        services.api_key_create(actor=actor_for(identity.user), organization=org, name="x", membership=owner)
    assert "Nobody can create an API key for the primary owner" in str(exc.value)
    assert not ApiKey.objects.filter(membership=owner, name="x").exists()
    stronger = add_member(org, "privacy_manage")
    with pytest.raises(PermissionDenied) as exc:
        services.api_key_create(actor=actor_for(identity.user), organization=org, name="x", membership=stronger)
    assert "strictly below you" in str(exc.value)
    user = add_member(org, "user")
    key, _ = services.api_key_create(actor=actor_for(identity.user), organization=org, name="for-user", membership=user)
    assert key.membership_id == user.pk


def test_no_invitation_link_for_someone_another_organization_invited(console, org):
    other = make_org(name="Other")
    victim = services.member_add(actor=actor_for(primary_owner(other).user), organization=other,
                                 email="victim@other.test", role_id="owner")
    admin = add_member(org, "admin")
    response = console(admin.user).post(reverse("console:member_add"), {"email": victim.user.email, "role": "user"})
    assert response.status_code == 302  # added, and no link is shown to anyone (it is emailed to them)
    detail = console(admin.user).get(reverse("console:member_detail", args=[victim.user_id])).content.decode()
    assert "/accounts/invitation/" not in detail and "set-password" not in detail


def test_removing_a_member_records_that_their_keys_stopped(org, owner, key_for):
    member = add_member(org, "user")
    key_for(member)
    services.member_remove(actor=actor_for(owner.user), membership=member)
    revoked = AuditEvent.objects.get(organization=org, action="api_key.revoked")
    assert (revoked.before, revoked.after) == ({"status": "active"}, {"status": "archived", "reason": "member removed"})


def test_a_person_with_memberships_cannot_be_deleted(org, owner):
    with pytest.raises(ProtectedError):
        owner.user.delete()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_denied_workspace_create_and_delegate_rename_are_audited(org, owner):
    viewer = add_member(org, "privacy_view")
    with pytest.raises(PermissionDenied):
        residency_services.workspace_create(actor=actor_for(viewer.user), organization=org, name="W",
                                  data_residency={"default_inference_geo": "us"})
    e = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (e.action, e.outcome, e.actor_user_id) == ("workspace.residency_change_denied", "denied", viewer.user_id)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=delegate, admin=True)
    with pytest.raises(PermissionDenied):
        residency_services.workspace_update(actor=actor_for(delegate.user), workspace=ws, name="Mine",
                                  data_residency={"default_inference_geo": "us"})
    e = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (e.action, e.outcome, e.actor_user_id) == ("workspace.residency_change_denied", "denied", delegate.user_id)
    ws.refresh_from_db()
    assert (ws.name, ws.default_inference_geo) == ("Prod", "global")


def test_bootstrap_never_resets_an_existing_persons_password(org, owner):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from orgs.models import Organization

    owner.user.set_password("original-pass")
    owner.user.save()
    before = Organization.objects.count()
    with pytest.raises(CommandError, match="already exists; its password cannot be set here"):
        call_command("bootstrap_org", "--name", "Second", "--plan", "team", "--owner-email", owner.user.email.upper(),
                     "--owner-password", "hijacked-pass-2026", "--json", stdout=StringIO())
    owner.user.refresh_from_db()
    assert owner.user.check_password("original-pass")
    assert Organization.objects.count() == before
