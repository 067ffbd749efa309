"""Reads for organizations and their members, scoped to the organization."""

from django.db.models import Count, Q

from .models import MAX_API_KEY_LENGTH, ApiKey, ApiKeyStatus, BuiltinRole, Membership, Role, hash_api_key
from .permissions import sees_all_api_keys


def api_key_for_secret(raw):
    """The usable key for this secret, with its member, user, organization and creator (one
    query), or None."""
    if not raw or len(raw) > MAX_API_KEY_LENGTH:
        return None
    return (
        ApiKey.objects.usable()
        .select_related("membership__user", "membership__organization", "membership__role", "created_by")
        .filter(key_hash=hash_api_key(raw))
        .first()
    )


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


def members_of(organization, *, email=None, roles=None):
    """The organization's memberships with user and role, oldest first (one query per page);
    optionally only the member with `email` (any case) or those with one of `roles` (role ids)."""
    qs = Membership.objects.filter(organization_id=organization.pk)
    if email is not None:
        qs = qs.filter(user__email=email.strip().lower())
    if roles:
        qs = qs.filter(role_id__in=roles)
    return qs.select_related("user", "role").order_by("created_at", "pk")


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
    roles = roles_for(access.organization).exclude(pk=BuiltinRole.PRIMARY_OWNER).order_by("-builtin", "created_at", "pk")
    return [role for role in roles if access.role_fits_within(role)]


def api_keys_visible_to(access, *, status=None, created_by_user_id=None):
    """Everyone's keys for Identity & access: view, otherwise the member's own; optionally only
    those in `status` (`expired` matches none: keys here do not expire) or created by
    `created_by_user_id`."""
    qs = ApiKey.objects.filter(membership__organization_id=access.organization.pk).select_related(
        "membership__user"
    )
    if not sees_all_api_keys(access):
        qs = qs.filter(membership_id=access.membership.pk if access.membership else None)
    if status is not None:
        qs = qs.filter(status=status) if status in ApiKeyStatus.values else qs.none()
    if created_by_user_id is not None:
        qs = qs.filter(created_by_id=created_by_user_id)
    return qs


def active_key_count(membership):
    """How many of the member's keys still work (shown before removing them)."""
    return ApiKey.objects.filter(membership=membership, status=ApiKeyStatus.ACTIVE).count()


def member_of(organization, *, user_id=None, membership_id=None):
    """One member of `organization` by user id or membership id, or None (another
    organization's member is None too)."""
    qs = Membership.objects.select_related("user", "role").filter(organization_id=organization.pk)
    if user_id is not None:
        return qs.filter(user_id=user_id).first()
    return qs.filter(pk=membership_id).first()
