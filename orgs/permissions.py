"""The only place that decides who may do what in an organization (SPEC §2 Roles).

Role levels are materialized as django-guardian object permissions on the Organization
(`view_privacy`, `manage_privacy`, ...) and, for per-workspace delegation, on the Workspace
(`admin_workspace`). Services grant and revoke them in the same transaction as the role
change; checks read them fresh on every request, so no process can hold a stale answer.

Another organization's objects answer 404 (Http404), never 403.

Console pages follow one rule inside the member's own organization (SPEC §2, order of checks):
a page of an area where the member holds no access answers 404, exactly like an unknown id,
so it never confirms what exists; a page they can see but an action they may not take answers
403 with what it needs ("Privacy: Can manage", `models.permission_label`). The console asks
with `hide=True`; the REST contract keeps its own table (tests/orgs/test_api_users.py).
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404
from guardian.core import ObjectPermissionChecker

from .models import (
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
    permission_label,
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
    answers every area check from them. Through an API key someone else created, the actor
    holds, area by area, the lower of the key's member's and the key's creator's current
    levels (SPEC §3): a key never outranks its maker, even after the maker is demoted.
    """

    def __init__(self, user, organization, membership, api_key=None):
        self.user = user
        self.organization = organization
        self.membership = membership
        self.api_key = api_key
        self._checker = ObjectPermissionChecker(user)
        self._perms = None
        self._creator_perms = None

    @property
    def perms(self):
        if self._perms is None:
            self._perms = set(self._checker.get_user_perms(self.organization))
        return self._perms

    @property
    def through_foreign_key(self):
        """Acting with a key its member did not create themself (an identity manager minted it)."""
        return (self.api_key is not None and self.membership is not None
                and self.api_key.created_by_id != self.membership.user_id)

    @property
    def key_creator_id(self):
        """The creator of the key acted through, when that is someone else than its member
        ("" when the creator is unknown), else None."""
        return (self.api_key.created_by_id or "") if self.through_foreign_key else None

    @property
    def creator_perms(self):
        """The key creator's current permission codenames here (none if they left or are unknown)."""
        if self._creator_perms is None:
            creator_id = self.key_creator_id
            self._creator_perms = set(
                OrganizationUserObjectPermission.objects.filter(
                    user_id=creator_id, content_object_id=self.organization.pk
                ).values_list("permission__codename", flat=True)
            ) if creator_id else set()
        return self._creator_perms

    @staticmethod
    def _level_in(perms, area):
        if f"{LEVEL_MANAGE}_{area}" in perms:
            return LEVEL_MANAGE
        if f"{LEVEL_VIEW}_{area}" in perms:
            return LEVEL_VIEW
        return LEVEL_NONE

    def creator_level(self, area):
        return self._level_in(self.creator_perms, area)

    def level(self, area):
        if self.membership is None:  # platform staff acting through the Django admin
            return LEVEL_VIEW if area == "audit_log" else LEVEL_MANAGE
        own = self._level_in(self.perms, area)
        if self.through_foreign_key:
            return min(own, self.creator_level(area), key=LEVEL_RANK.__getitem__)
        return own

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
        """The primary owner in person, or with a key that acts as them: one they created
        themself. A key someone else minted for them never does (it acts at most as its maker)."""
        return (self.membership is not None and self.membership.role_id == BuiltinRole.PRIMARY_OWNER
                and not self.through_foreign_key)

    def require(self, area, need=LEVEL_VIEW, *, hide=False):
        """Raise unless the actor holds `need` on `area`; `hide` turns the 403 into a 404."""
        if self.can(area, need):
            return
        if hide and not self.can(area, LEVEL_VIEW):
            raise Http404("Not found.")
        raise PermissionDenied(
            f"This needs {permission_label(area, need)} in {self.organization.name}; "
            f"{self._whose()} has {permission_label(area, self.level(area))}."
        )

    def _whose(self):
        if self.through_foreign_key:
            return (f"this API key (it acts with at most what both its member and its creator hold; "
                    f"its member's role is {self.role_name})")
        return f"your role ({self.role_name})"

    def role_fits_within(self, role):
        """True when every area of `role` is at most what the actor holds (no escalation)."""
        return self.levels_fit_within(role.permissions)

    def levels_fit_within(self, levels):
        """True when every area level in `levels` ({area: level}) is at most the actor's."""
        return all(LEVEL_RANK[levels.get(a, LEVEL_NONE)] <= LEVEL_RANK[self.level(a)] for a in AREAS)

    def outranks(self, membership):
        """Strictly above `membership` (SPEC §3, API keys): the primary owner ranks above every
        other member; otherwise no area lower than theirs and at least one higher. Nobody
        outranks the primary owner."""
        if membership.role_id == BuiltinRole.PRIMARY_OWNER:
            return False
        if self.is_primary_owner:
            return True
        theirs, mine = membership.role.permissions, self.levels()
        return (all(LEVEL_RANK[theirs[a]] <= LEVEL_RANK[mine[a]] for a in AREAS)
                and any(LEVEL_RANK[theirs[a]] < LEVEL_RANK[mine[a]] for a in AREAS))


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
        key = actor.api_key if actor.api_key is not None and actor.api_key.membership_id == membership.pk else None
        access = Access(actor.user, membership.organization, membership, api_key=key)
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


def require_roles_view(access, *, hide=False):
    """Roles are seen with Identity & access or User management; `hide` (console pages): a member
    with neither gets 404, as for any area they hold no access to."""
    if can_see_roles(access):
        return
    if hide:
        raise Http404("Not found.")
    raise PermissionDenied(
        f"Seeing roles needs {permission_label('identity_access', LEVEL_VIEW)} or "
        f"{permission_label('user_management', LEVEL_VIEW)}; your role ({access.role_name}) has neither."
    )


def access_member(*, access, user_id, need=LEVEL_VIEW, hide=False):
    """The membership of user `user_id` in the access's organization (User management: `need`;
    `hide` as in `Access.require`).

    Someone who is not a member here is 404, whoever asks.
    """
    access.require("user_management", need, hide=hide)
    membership = (
        Membership.objects.select_related("user", "role", "organization")
        .filter(organization_id=access.organization.pk, user_id=user_id)
        .first()
    )
    if membership is None:
        raise Http404(f"No user with id {user_id!r} in this organization.")
    return membership


def access_role(*, access, id, need=LEVEL_VIEW, hide=False):
    """A custom role of this organization (Identity & access: `need`); built-ins and other
    organizations' roles are 404 (built-in roles cannot be edited). `hide` as in `Access.require`."""
    if need == LEVEL_MANAGE:
        access.require("identity_access", LEVEL_MANAGE, hide=hide)
    else:
        require_roles_view(access, hide=hide)
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


def require_may_create_key_for(access, membership):
    """A member creates keys for themself; with Identity & access: manage, also for members
    strictly below them (`Access.outranks`). Never for the primary owner nor for an equal: 403
    (SPEC §3). A key acts with the lower of its member's and its creator's access, so a key made
    through another key is bounded by that key's creator as well."""
    if access.membership is not None and membership.pk == access.membership.pk:
        return
    access.require("identity_access", LEVEL_MANAGE)
    if membership.role_id == BuiltinRole.PRIMARY_OWNER:
        raise PermissionDenied(
            f"Nobody can create an API key for the primary owner ({membership.user.email}); "
            "the primary owner creates their own keys."
        )
    if not access.outranks(membership):
        raise PermissionDenied(
            f"You can create API keys only for members strictly below you (no area higher than yours and at "
            f"least one lower); {membership.user.email} is {membership.role.name}, which is not below "
            f"{access._whose()}."
        )


def may_create_key_for(access, membership):
    """Whether this actor may create a key for `membership` (and so resume one of its paused
    keys): the rule of `require_may_create_key_for`, as a yes or no."""
    try:
        require_may_create_key_for(access, membership)
    except PermissionDenied:
        return False
    return True


def can_manage_member(access, membership):
    """Whether this member may change or remove `membership`: User management: manage, never the
    primary owner, never someone whose role has more access than theirs. A pure check on loaded
    rows (lists call it per row without a query)."""
    return (
        access.can("user_management", LEVEL_MANAGE)
        and membership.role_id != BuiltinRole.PRIMARY_OWNER
        and access.role_fits_within(membership.role)
    )


# --- the rules the services enforce, and the console asks before it shows a button ---------------


def require_may_assign_role(access, role):
    """Nobody grants a role with more access than their own."""
    if not access.role_fits_within(role):
        raise PermissionDenied(
            f"You cannot grant the {role.name} role: it has more access than your own ({access.role_name})."
        )


def require_may_manage_member(access, membership):
    """Nobody changes or removes a member whose role has more access than theirs (`can_manage_member`
    is the whole rule as a yes or no, for lists)."""
    if not access.role_fits_within(membership.role):
        raise PermissionDenied(
            f"{membership.user.email} is {membership.role.name}, with more access than your own "
            f"({access.role_name}); ask an owner to change or remove them."
        )


def require_levels_within(access, levels, verb):
    """Nobody creates or changes a custom role to more access than their own, area by area."""
    if not access.levels_fit_within(levels):
        over = [a for a in AREAS if LEVEL_RANK[levels.get(a, LEVEL_NONE)] > LEVEL_RANK[access.level(a)]]
        raise PermissionDenied(
            f"You cannot {verb} a role with more access than your own ({access.role_name}): "
            + ", ".join(f"{a} {levels[a]} (you have {access.level(a)})" for a in over) + "."
        )


def require_may_change_key(access, api_key):
    """A member changes and revokes their own keys; Identity & access: manage anyone's."""
    if access.membership is None or api_key.membership_id != access.membership.pk:
        access.require("identity_access", LEVEL_MANAGE)


def may_change_key(access, api_key):
    """Whether this actor may rename, pause or revoke `api_key`: the rule of `require_may_change_key`
    as a yes or no, on the loaded row (no query)."""
    return (access.membership is not None and api_key.membership_id == access.membership.pk) or access.can(
        "identity_access", LEVEL_MANAGE)


def may_transfer_primary_owner(access):
    """Only the primary owner, in person or with a key they created themself (SPEC §3)."""
    return access.is_primary_owner


def may_edit_roles(access):
    """Custom roles are an Enterprise feature, edited with Identity & access: manage."""
    return access.organization.is_enterprise and access.can("identity_access", LEVEL_MANAGE)

