"""Reads for organizations and their members, scoped to the organization."""

from django.db.models import Count, Q
from guardian.shortcuts import get_objects_for_user

from .models import ROLE_PRIMARY_OWNER, ApiKey, Membership, Role, Workspace
from .permissions import WORKSPACE_ADMIN_PERM, sees_all_api_keys


def api_key_authenticate(raw):
    """The active key for this secret, with its member, user and organization (one query)."""
    from .services import api_key_touch, hash_api_key

    if not raw or len(raw) > 200:
        return None
    key = (
        ApiKey.objects.select_related("membership__user", "membership__organization", "membership__role")
        .filter(key_hash=hash_api_key(raw), revoked_at__isnull=True, membership__user__is_active=True)
        .first()
    )
    if key is not None:
        api_key_touch(key)
    return key


def memberships_for_user(user):
    return list(
        Membership.objects.filter(user=user).select_related("organization", "role").order_by("organization__name")
    )


def current_membership(request):
    """The member the console acts as: the API key's, or the session's chosen organization."""
    cached = getattr(request, "_current_membership", False)
    if cached is not False:
        return cached
    membership = None
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        membership = api_key.membership
    elif request.user.is_authenticated:
        qs = Membership.objects.filter(user=request.user).select_related("organization", "role")
        org_id = request.session.get("organization_id") or request.user.last_organization_id
        if org_id:
            membership = qs.filter(organization_id=org_id).first()
        if membership is None:
            membership = qs.order_by("organization__name").first()
            if membership is not None:
                request.session["organization_id"] = membership.organization_id
    request._current_membership = membership
    return membership


def workspaces_visible_to(access, *, include_archived=False):
    """Workspaces this member may see: all of them with Privacy: view, else the ones they
    administer (guardian object permission), filtered in SQL, never row by row."""
    qs = Workspace.objects.filter(organization_id=access.organization.pk)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if access.can("privacy"):
        return qs
    return get_objects_for_user(
        access.user, f"orgs.{WORKSPACE_ADMIN_PERM}", qs, accept_global_perms=False, with_superuser=False
    )


def members_of(organization):
    """The organization's memberships with user and role, oldest first (one query per page)."""
    return (
        Membership.objects.filter(organization_id=organization.pk)
        .select_related("user", "role")
        .order_by("created_at", "pk")
    )


def roles_for(organization):
    """Built-in roles and this organization's custom roles, built-ins first."""
    return Role.objects.filter(Q(builtin=True) | Q(organization_id=organization.pk))


def roles_with_member_counts(organization):
    return list(
        roles_for(organization)
        .annotate(member_count=Count("memberships", filter=Q(memberships__organization_id=organization.pk)))
        .order_by("-builtin", "created_at", "pk")
    )


def assignable_roles(access):
    """Roles this member may give others (never more access than their own), for pickers.

    The primary-owner title is transferred, not assigned, so it is never offered.
    """
    roles = roles_for(access.organization).exclude(pk=ROLE_PRIMARY_OWNER).order_by("-builtin", "created_at", "pk")
    return [role for role in roles if access.role_fits_within(role)]


def api_keys_visible_to(access):
    """Everyone's keys for Identity & access: view, otherwise the member's own."""
    qs = ApiKey.objects.filter(membership__organization_id=access.organization.pk).select_related(
        "membership__user"
    )
    if not sees_all_api_keys(access):
        qs = qs.filter(membership_id=access.membership.pk if access.membership else None)
    return qs


INFERENCE_RESIDENCY_HISTORY_ACTIONS = (
    "inference_residency.updated",
    "inference_residency.change_denied",
    "inference_residency.legacy_migrated",
)


def inference_residency_history(organization, *, limit=10):
    """The latest changes (and denied attempts) to the US-only setting, newest first.

    Plan or lock changes by platform staff that moved the setting count too.
    """
    from residency.models import AuditEvent

    return list(
        AuditEvent.objects.filter(organization_id=organization.pk)
        .filter(
            Q(action__in=INFERENCE_RESIDENCY_HISTORY_ACTIONS)
            | Q(action="organization.updated", after__has_key="us_only")
        )
        .order_by("-seq")[:limit]
    )
