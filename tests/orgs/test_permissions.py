"""Role levels live as guardian object permissions, granted and revoked with the role change."""

import pytest

from orgs import services
from orgs.models import OrganizationUserObjectPermission, WorkspaceUserObjectPermission
from orgs.permissions import access_organization
from residency import services as residency_services
from residency.selectors import workspaces_visible_to
from tests.factories import actor_for, add_member, make_org

pytestmark = pytest.mark.django_db


def codenames(membership):
    return set(
        OrganizationUserObjectPermission.objects.filter(
            user_id=membership.user_id, content_object_id=membership.organization_id
        ).values_list("permission__codename", flat=True)
    )


def test_owner_holds_manage_everywhere_and_audit_view(org, owner):
    names = codenames(owner)
    assert {"manage_privacy", "view_privacy", "manage_billing", "view_audit_log"} <= names
    assert "manage_audit_log" not in names


def test_role_change_grants_and_revokes_in_the_same_call(org, owner):
    m = add_member(org, "user")
    assert codenames(m) == set()
    services.member_change_role(actor=actor_for(owner.user), membership=m, role_id="admin")
    assert codenames(m) == {"view_user_management", "manage_user_management"}
    services.member_change_role(actor=actor_for(owner.user), membership=m, role_id="user")
    assert codenames(m) == set()


def test_removal_revokes_org_and_workspace_permissions(org, owner):
    m = add_member(org, "user")
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W")
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=m, admin=True)
    services.member_change_role(actor=actor_for(owner.user), membership=m, role_id="admin")
    services.member_remove(actor=actor_for(owner.user), membership=m)
    assert not OrganizationUserObjectPermission.objects.filter(user_id=m.user_id).exists()
    assert not WorkspaceUserObjectPermission.objects.filter(user_id=m.user_id).exists()


def test_permissions_are_per_organization(org, owner):
    other = make_org(name="Other")
    access = access_organization(actor=actor_for(owner.user), id=org.pk)
    assert access.can("privacy", "manage")
    from django.http import Http404

    with pytest.raises(Http404):
        access_organization(actor=actor_for(owner.user), id=other.pk)


def test_workspace_list_is_filtered_by_guardian_for_delegates(org, owner, django_assert_num_queries):
    actor = actor_for(owner.user)
    mine = residency_services.workspace_create(actor=actor, organization=org, name="Mine")
    residency_services.workspace_create(actor=actor, organization=org, name="Theirs")
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor, workspace=mine, membership=delegate, admin=True)
    delegate_access = access_organization(actor=actor_for(delegate.user), id=org.pk)
    assert [w.name for w in workspaces_visible_to(delegate_access)] == ["Mine"]
    owner_access = access_organization(actor=actor_for(owner.user), id=org.pk)
    assert {w.name for w in workspaces_visible_to(owner_access)} == {"Mine", "Theirs"}
    plain = access_organization(actor=actor_for(add_member(org, "user").user), id=org.pk)
    assert list(workspaces_visible_to(plain)) == []
