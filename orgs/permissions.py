"""The only place that decides who may do what in an organization (SPEC §2 Roles).

Role levels are materialized as django-guardian object permissions on the Organization
(`view_privacy`, `manage_privacy`, ...) and, for per-workspace delegation, on the Workspace
(`admin_workspace`). Services grant and revoke them in the same transaction as the role
change; checks read them fresh on every request, so no process can hold a stale answer.

Another organization's objects answer 404 (Http404), never 403.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404
from guardian.core import ObjectPermissionChecker

from .models import (
    AREA_LABELS,
    AREAS,
    LEVEL_RANK,
    ApiKey,
    BuiltinRole,
    Level,
    Membership,
    Organization,
    OrganizationUserObjectPermission,
    Role,
    WorkspaceUserObjectPermission,
)

LEVEL_NONE, LEVEL_VIEW, LEVEL_MANAGE = Level.NONE, Level.VIEW, Level.MANAGE


def codenames_for_role(role):
    """Object permission codenames a role's levels imply (manage implies view)."""
    names = set()
    for area in AREAS:
        level = role.level(area)
        if level in (LEVEL_VIEW, LEVEL_MANAGE):
            names.add(f"{LEVEL_VIEW}_{area}")
        if level == LEVEL_MANAGE:
            names.add(f"{LEVEL_MANAGE}_{area}")
    return names


def sync_member_permissions(membership):
    """Make the member's object permissions on their organization match their role."""
    OrganizationUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object_id=membership.organization_id
    ).delete()
    wanted = codenames_for_role(membership.role)
    if not wanted:
        return
    ct = ContentType.objects.get_for_model(Organization)
    perms = Permission.objects.filter(content_type=ct, codename__in=wanted)
    OrganizationUserObjectPermission.objects.bulk_create(
        OrganizationUserObjectPermission(
            user_id=membership.user_id, content_object_id=membership.organization_id, permission=p
        )
        for p in perms
    )


def revoke_member_permissions(membership):
    OrganizationUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object_id=membership.organization_id
    ).delete()
    WorkspaceUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object__organization_id=membership.organization_id
    ).delete()


class Access:
    """One request's view of what the actor may do in one organization.

    Loads the actor's guardian permissions on the organization once (one query) and
    answers every area check from them.
    """

    def __init__(self, user, organization, membership):
        self.user = user
        self.organization = organization
        self.membership = membership
        self._checker = ObjectPermissionChecker(user)
        self._perms = None

    @property
    def perms(self):
        if self._perms is None:
            self._perms = set(self._checker.get_user_perms(self.organization))
        return self._perms

    def level(self, area):
        if self.membership is None:  # platform staff acting through the Django admin
            return LEVEL_VIEW if area == "audit_log" else LEVEL_MANAGE
        perms = self.perms
        if f"{LEVEL_MANAGE}_{area}" in perms:
            return LEVEL_MANAGE
        if f"{LEVEL_VIEW}_{area}" in perms:
            return LEVEL_VIEW
        return LEVEL_NONE

    def can(self, area, need=LEVEL_VIEW):
        return LEVEL_RANK[self.level(area)] >= LEVEL_RANK[need]

    def levels(self):
        return {area: self.level(area) for area in AREAS}

    @property
    def role_id(self):
        return self.membership.role_id if self.membership else "staff"

    @property
    def role_name(self):
        return self.membership.role.name if self.membership else "Platform staff"

    @property
    def is_primary_owner(self):
        return self.membership is not None and self.membership.role_id == BuiltinRole.PRIMARY_OWNER

    def require(self, area, need=LEVEL_VIEW, *, hide=False):
        """Raise unless the actor holds `need` on `area`; `hide` turns the 403 into a 404."""
        if self.can(area, need):
            return
        if hide and not self.can(area, LEVEL_VIEW):
            raise Http404("Not found.")
        raise PermissionDenied(
            f"This needs {AREA_LABELS[area]}: {need} in {self.organization.name}; "
            f"your role ({self.role_name}) has {self.level(area)}."
        )

    def role_fits_within(self, role):
        """True when every area of `role` is at most what the actor holds (no escalation)."""
        return self.levels_fit_within(role.permissions)

    def levels_fit_within(self, levels):
        """True when every area level in `levels` ({area: level}) is at most the actor's."""
        return all(LEVEL_RANK[levels.get(a, LEVEL_NONE)] <= LEVEL_RANK[self.level(a)] for a in AREAS)


def is_trusted_operator(actor):
    """Commands, migrations and platform staff in the Django admin: not organization members,
    and the only ones who create organizations or change plans and locks."""
    return actor.user is None or actor.is_platform_staff


def role_label(actor, organization):
    """The actor's role name in `organization` right now, for the audit record."""
    if actor.user is None:
        return ""
    membership = Membership.objects.filter(user=actor.user, organization_id=organization.pk).select_related("role")
    membership = membership.first()
    if membership is not None:
        return membership.role.name
    return "Platform staff" if actor.is_platform_staff else "non-member"


def access_organization(*, actor, id, area=None, need=LEVEL_VIEW, hide=False):
    """Fetch the organization `id` for a member, optionally requiring `need` on `area`.

    Returns an `Access`. Not a member: 404 (the organization does not exist for them).
    """
    if actor.user is None:
        raise Http404("Not found.")
    membership = (
        Membership.objects.select_related("organization", "role")
        .filter(user_id=actor.user.pk, organization_id=id)
        .first()
    )
    if membership is not None:
        access = Access(actor.user, membership.organization, membership)
    elif actor.is_platform_staff:
        organization = Organization.objects.filter(pk=id).first()
        if organization is None:
            raise Http404("No such organization.")
        access = Access(actor.user, organization, None)
    else:
        raise Http404("No such organization.")
    if area is not None:
        access.require(area, need, hide=hide)
    return access


# --- console and REST access to members, roles, API keys and the US-only setting -------------


def can_see_roles(access):
    """Roles are listed to those who manage identity (they edit roles) or members (they assign them)."""
    return access.can("identity_access") or access.can("user_management")


def require_roles_view(access):
    if can_see_roles(access):
        return
    raise PermissionDenied(
        "Seeing roles needs Identity & access: view or User management: view; "
        f"your role ({access.role_name}) has neither."
    )


def access_member(*, access, user_id, need=LEVEL_VIEW):
    """The membership of user `user_id` in the access's organization (User management: `need`).

    Someone who is not a member here is 404, whoever asks.
    """
    access.require("user_management", need)
    membership = (
        Membership.objects.select_related("user", "role", "organization")
        .filter(organization_id=access.organization.pk, user_id=user_id)
        .first()
    )
    if membership is None:
        raise Http404(f"No user with id {user_id!r} in this organization.")
    return membership


def access_role(*, access, id, need=LEVEL_VIEW):
    """A custom role of this organization (Identity & access: `need`); built-ins and other
    organizations' roles are 404 (built-in roles cannot be edited)."""
    if need == LEVEL_MANAGE:
        access.require("identity_access", LEVEL_MANAGE)
    else:
        require_roles_view(access)
    role = Role.objects.filter(pk=id, organization_id=access.organization.pk, builtin=False).first()
    if role is None:
        raise Http404(f"No custom role with id {id!r} in this organization.")
    return role


def sees_all_api_keys(access):
    return access.can("identity_access")


def access_api_key(*, access, id, need=LEVEL_VIEW):
    """An API key of this organization. Members see and revoke their own keys; Identity &
    access: view sees everyone's and manage revokes them. A key the member cannot see is 404."""
    key = (
        ApiKey.objects.select_related("membership__user", "membership__organization")
        .filter(pk=id, membership__organization_id=access.organization.pk)
        .first()
    )
    own = key is not None and access.membership is not None and key.membership_id == access.membership.pk
    if key is None or not (own or sees_all_api_keys(access)):
        raise Http404(f"No API key with id {id!r} in this organization.")
    if need == LEVEL_MANAGE and not own:
        access.require("identity_access", LEVEL_MANAGE)
    return key


def may_create_key_for(access, membership):
    """Whether this actor may create a key for `membership` (and so resume one of its paused
    keys): a member for themself; with Identity & access: manage, for a member whose role has
    no more access than theirs. Today's rule of `orgs.services.api_key_create`, kept here as
    one function for both (SPEC §3 API keys, §9)."""
    if access.membership is not None and membership.pk == access.membership.pk:
        return True
    return access.can("identity_access", LEVEL_MANAGE) and access.role_fits_within(membership.role)


def may_invite(access, user):
    """Whether this member may hand `user` a set-password link: only for a person who has never
    chosen a password and belongs to no other organization (else the link would let one
    organization take over an account another organization relies on)."""
    if user.has_usable_password() or not access.can("user_management", LEVEL_MANAGE):
        return False
    return not Membership.objects.filter(user_id=user.pk).exclude(organization_id=access.organization.pk).exists()


def can_manage_member(access, membership):
    """Whether this member may change or remove `membership`: User management: manage, never the
    primary owner, never someone whose role has more access than theirs. A pure check on loaded
    rows (lists call it per row without a query)."""
    return (
        access.can("user_management", LEVEL_MANAGE)
        and membership.role_id != BuiltinRole.PRIMARY_OWNER
        and access.role_fits_within(membership.role)
    )
