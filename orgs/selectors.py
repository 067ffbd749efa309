"""Reads for organizations and their members, scoped to the organization."""

from guardian.shortcuts import get_objects_for_user

from .models import ApiKey, Membership, Workspace
from .permissions import WORKSPACE_ADMIN_PERM


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
        org_id = request.session.get("organization_id")
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
