"""Every write to organizations, members, roles, API keys and workspaces (SPEC §2).

Each service is keyword-only, takes an `actor`, runs in one transaction, checks permission
through `orgs.permissions` and writes its audit record inside that transaction. Console
views, REST views, the Django admin and management commands all call these.
"""

import hashlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from core.ids import random_base62
from residency.audit import audit_record
from residency.models import Geo

from .models import (
    AREA_LEVELS,
    AREAS,
    BUILTIN_ROLE_IDS,
    LEVEL_MANAGE,
    LEVEL_NONE,
    LEVEL_RANK,
    LOCK_CHOICES,
    LOCK_REASON_SENTENCES,
    MAX_ACTIVE_WORKSPACES,
    PLAN_CHOICES,
    PLAN_ENTERPRISE_USAGE,
    ROLE_OWNER,
    ROLE_PRIMARY_OWNER,
    ApiKey,
    Membership,
    Organization,
    Role,
    User,
    Workspace,
    WorkspaceUserObjectPermission,
)
from .permissions import (
    WORKSPACE_ADMIN_PERM,
    access_organization,
    access_workspace,
    residency_unavailable_message,
    revoke_member_permissions,
    sync_member_permissions,
)

UNRESTRICTED = "unrestricted"
API_KEY_PREFIX = "rc-api-"
LAST_USED_RESOLUTION_SECONDS = 60


def _lock_org(organization):
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _snapshot_org(org):
    return {
        "name": org.name,
        "plan": org.plan,
        "us_only": org.us_only_inference,
        "lock_reason": org.lock_reason,
        "legacy_opt_out": org.legacy_opt_out,
    }


def _is_trusted_operator(actor):
    """Commands, migrations and platform staff in the Django admin (not org members)."""
    return actor.user is None or (actor.source == "admin" and actor.user.is_superuser)


# --- organizations --------------------------------------------------------------------------


def organization_create(*, actor, name, plan, owner_email, owner_password=None,
                        lock_reason=None, legacy_opt_out=False):
    """Create an organization with its primary owner (an existing or new user). Operators only."""
    if not _is_trusted_operator(actor):
        raise PermissionDenied("Only platform operators can create organizations.")
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the organization a name."]
    if plan not in dict(PLAN_CHOICES):
        errors["plan"] = [f"Unknown plan {plan!r}; use one of {', '.join(dict(PLAN_CHOICES))}."]
    if lock_reason not in (None, "") and lock_reason not in dict(LOCK_CHOICES):
        errors["lock_reason"] = [f"Unknown lock reason {lock_reason!r}; use one of {', '.join(dict(LOCK_CHOICES))}."]
    email = (owner_email or "").strip().lower()
    if "@" not in email:
        errors["owner_email"] = ["Give the owner's email address."]
    if errors:
        raise ValidationError(errors)
    lock_reason = lock_reason or None
    with transaction.atomic():
        org = Organization.objects.create(
            name=name,
            plan=plan,
            lock_reason=lock_reason,
            us_only_inference=lock_reason is not None,
            legacy_opt_out=legacy_opt_out,
        )
        user = _user_for_email(email, password=owner_password)
        membership = Membership.objects.create(user=user, organization=org, role_id=ROLE_PRIMARY_OWNER)
        sync_member_permissions(membership)
        audit_record(actor=actor, organization=org, action="organization.created", target=org,
                     after=_snapshot_org(org))
        audit_record(actor=actor, organization=org, action="member.added", target=membership.user,
                     after={"email": user.email, "role": ROLE_PRIMARY_OWNER})
    return org, membership


def _user_for_email(email, *, password=None):
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif password and not user.has_usable_password():
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def organization_update(*, actor, organization, **changes):
    """Change name (identity_access: manage), or plan / lock / legacy flag (operators only).

    A lock turns US-only on and can never be lifted. Leaving the usage-based plan turns an
    unlocked US-only setting off, since the setting does not exist on other plans.
    """
    allowed = {"name", "plan", "lock_reason", "legacy_opt_out"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Unknown organization fields: {', '.join(sorted(unknown))}.")
    operator_fields = set(changes) & {"plan", "lock_reason", "legacy_opt_out"}
    if operator_fields and not _is_trusted_operator(actor):
        raise PermissionDenied("Plan and lock changes are made by platform operators.")
    if not _is_trusted_operator(actor):
        access_organization(actor=actor, id=organization.pk, area="identity_access", need=LEVEL_MANAGE)
    with transaction.atomic():
        org = _lock_org(organization)
        before = _snapshot_org(org)
        errors = {}
        if "name" in changes:
            name = (changes["name"] or "").strip()
            if not name:
                errors["name"] = ["Give the organization a name."]
            org.name = name
        if "plan" in changes:
            if changes["plan"] not in dict(PLAN_CHOICES):
                errors["plan"] = [f"Unknown plan {changes['plan']!r}; use one of {', '.join(dict(PLAN_CHOICES))}."]
            org.plan = changes["plan"]
        if "lock_reason" in changes:
            reason = changes["lock_reason"] or None
            if reason is not None and reason not in dict(LOCK_CHOICES):
                errors["lock_reason"] = [f"Unknown lock reason {reason!r}; use one of {', '.join(dict(LOCK_CHOICES))}."]
            elif org.lock_reason and reason != org.lock_reason:
                errors["lock_reason"] = [
                    f"US-only inference is locked ({org.lock_reason}); a lock cannot be lifted or changed."
                ]
            org.lock_reason = reason
            if reason:
                org.us_only_inference = True
        if "legacy_opt_out" in changes:
            org.legacy_opt_out = bool(changes["legacy_opt_out"])
        if errors:
            raise ValidationError(errors)
        if org.plan != PLAN_ENTERPRISE_USAGE and not org.lock_reason:
            org.us_only_inference = False
        after = _snapshot_org(org)
        if after == before:
            return org
        org.save()
        audit_record(actor=actor, organization=org, action="organization.updated", target=org,
                     before={k: v for k, v in before.items() if before[k] != after[k]},
                     after={k: v for k, v in after.items() if before[k] != after[k]})
    organization.refresh_from_db()
    return org


def inference_residency_set(*, actor, organization, us_only):
    """Turn US-only inference on or off (enterprise_usage plan, Privacy: manage, not locked).

    Every denied attempt by a member is audited (in its own transaction) before the error.
    """
    if not isinstance(us_only, bool):
        raise ValidationError({"us_only": ["Must be true or false."]})
    if not organization.residency_available and not organization.locked:
        raise Http404(residency_unavailable_message(organization))
    access = access_organization(actor=actor, id=organization.pk)
    denial = None
    with transaction.atomic():
        org = _lock_org(organization)
        before = {"us_only": org.us_only_inference}
        if not access.can("privacy", LEVEL_MANAGE):
            # privacy: none does not see the setting at all, so it is "not found" to them
            if access.can("privacy"):
                denial = PermissionDenied(
                    "Changing US-only inference needs Privacy: manage; "
                    f"your role ({access.role_name}) has Privacy: view."
                )
            else:
                denial = Http404("Not found.")
            reason = "permission"
        elif org.locked and us_only != org.us_only_inference:
            denial = PermissionDenied(
                f"US-only inference is locked on because {LOCK_REASON_SENTENCES[org.lock_reason]}, "
                "and cannot be changed. Existing pricing terms continue; contact your account team."
            )
            reason = f"locked:{org.lock_reason}"
        if denial is not None:
            audit_record(actor=actor, organization=org, action="inference_residency.change_denied",
                         target=org, before=before, after={"us_only": us_only, "denied": reason},
                         outcome="denied", role=access.role_name)
        elif us_only != org.us_only_inference:
            org.us_only_inference = us_only
            org.save(update_fields=["us_only_inference"])
            audit_record(actor=actor, organization=org, action="inference_residency.updated",
                         target=org, before=before, after={"us_only": us_only}, role=access.role_name)
    if denial is not None:
        raise denial
    organization.us_only_inference = org.us_only_inference
    return org


# --- members and roles ------------------------------------------------------------------------


def _role_for(organization, role_id):
    role = Role.objects.filter(pk=role_id).first()
    if role is None or (not role.builtin and role.organization_id != organization.pk):
        raise ValidationError({"role": [
            f"Unknown role {role_id!r}: use one of {', '.join(BUILTIN_ROLE_IDS)} or a custom role id of this organization."
        ]})
    return role


def _require_can_assign(access, role):
    if not access.role_fits_within(role):
        raise PermissionDenied(
            f"You cannot grant the {role.name} role: it has more access than your own ({access.role_name})."
        )


def _require_can_manage_member(access, membership):
    if not access.role_fits_within(membership.role):
        raise PermissionDenied(
            f"{membership.user.email} is {membership.role.name}, with more access than your own "
            f"({access.role_name}); ask an owner to change or remove them."
        )


def member_add(*, actor, organization, email, role_id):
    """Add a person (by email) to the organization with a role. User management: manage."""
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=LEVEL_MANAGE)
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValidationError({"email": ["Enter a valid email address."]})
    role = _role_for(organization, role_id)
    if role.pk == ROLE_PRIMARY_OWNER:
        raise ValidationError({"role": ["There is exactly one primary owner; transfer the title instead."]})
    _require_can_assign(access, role)
    with transaction.atomic():
        _lock_org(organization)
        user = _user_for_email(email)
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise ValidationError({"email": [f"{email} is already a member of {organization.name}."]})
        membership = Membership.objects.create(user=user, organization=organization, role=role)
        sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, action="member.added", target=user,
                     after={"email": email, "role": role.pk}, role=access.role_name)
    return membership


def member_change_role(*, actor, membership, role_id):
    """Change a member's role. Making someone primary_owner transfers the title."""
    if role_id == ROLE_PRIMARY_OWNER:
        return primary_owner_transfer(actor=actor, organization=membership.organization, to_membership=membership)
    organization = membership.organization
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=LEVEL_MANAGE)
    role = _role_for(organization, role_id)
    with transaction.atomic():
        _lock_org(organization)
        membership = Membership.objects.select_related("role", "user").get(pk=membership.pk)
        if membership.role_id == ROLE_PRIMARY_OWNER:
            raise ValidationError({"role": [
                "The primary owner's role cannot be changed; the primary owner must transfer the title first."
            ]})
        _require_can_manage_member(access, membership)
        _require_can_assign(access, role)
        if membership.role_id == role.pk:
            return membership
        before = {"role": membership.role_id}
        membership.role = role
        membership.save(update_fields=["role"])
        sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, action="member.role_changed",
                     target=membership.user, before=before, after={"role": role.pk}, role=access.role_name)
    return membership


def member_remove(*, actor, membership):
    """Remove a member: their API keys stop working and their permissions go with them."""
    organization = membership.organization
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=LEVEL_MANAGE)
    with transaction.atomic():
        _lock_org(organization)
        membership = Membership.objects.select_related("role", "user").get(pk=membership.pk)
        if membership.role_id == ROLE_PRIMARY_OWNER:
            raise ValidationError("The primary owner cannot be removed; transfer the title first.")
        _require_can_manage_member(access, membership)
        revoke_member_permissions(membership)
        now = timezone.now()
        for key in ApiKey.objects.filter(membership=membership, revoked_at__isnull=True):
            # the keys go with the membership; record that each one stopped working
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])
            audit_record(actor=actor, organization=organization, action="api_key.revoked", target=key,
                         before={"active": True}, after={"active": False, "reason": "member removed"},
                         role=access.role_name)
        before = {"email": membership.user.email, "role": membership.role_id}
        user = membership.user
        membership.delete()
        audit_record(actor=actor, organization=organization, action="member.removed", target=user,
                     before=before, role=access.role_name)


def primary_owner_transfer(*, actor, organization, to_membership):
    """Hand the primary-owner title to another member; the old primary owner becomes owner."""
    access = access_organization(actor=actor, id=organization.pk)
    if not access.is_primary_owner:
        raise PermissionDenied("Only the primary owner can transfer primary ownership.")
    with transaction.atomic():
        _lock_org(organization)
        current = Membership.objects.select_related("user").get(organization=organization, role_id=ROLE_PRIMARY_OWNER)
        target = Membership.objects.select_related("user").filter(pk=to_membership.pk, organization=organization).first()
        if target is None:
            raise ValidationError({"user": ["The new primary owner must be a member of this organization."]})
        if target.pk == current.pk:
            return target
        before_target_role = target.role_id
        current.role_id = ROLE_OWNER
        current.save(update_fields=["role"])
        target.role_id = ROLE_PRIMARY_OWNER
        target.save(update_fields=["role"])
        for m in (current, target):
            m.role = Role.objects.get(pk=m.role_id)
            sync_member_permissions(m)
        audit_record(actor=actor, organization=organization, action="primary_owner.transferred",
                     target=target.user,
                     before={"primary_owner": current.user.email, "role": before_target_role},
                     after={"primary_owner": target.user.email, "previous_primary_owner_role": ROLE_OWNER},
                     role=access.role_name)
    return target


def _clean_permissions(permissions, *, partial_base=None):
    if not isinstance(permissions, dict):
        raise ValidationError({"permissions": ["Must be an object of area: level."]})
    errors = []
    for area, level in permissions.items():
        if area not in AREAS:
            errors.append(f"unknown area {area!r}; areas are {', '.join(AREAS)}.")
        elif level not in AREA_LEVELS[area]:
            errors.append(f"{area}: level {level!r} is not allowed; use one of {', '.join(AREA_LEVELS[area])}.")
    if errors:
        raise ValidationError({"permissions": errors})
    base = dict(partial_base) if partial_base else {area: LEVEL_NONE for area in AREAS}
    base.update(permissions)
    return base


def _require_levels_within(access, levels, verb):
    if not access.levels_fit_within(levels):
        over = [a for a in AREAS if LEVEL_RANK[levels.get(a, LEVEL_NONE)] > LEVEL_RANK[access.level(a)]]
        raise PermissionDenied(
            f"You cannot {verb} a role with more access than your own ({access.role_name}): "
            + ", ".join(f"{a} {levels[a]} (you have {access.level(a)})" for a in over) + "."
        )


def role_create(*, actor, organization, name, permissions):
    """Create a custom role (Enterprise plans; Identity & access: manage). Missing areas: none."""
    access = access_organization(actor=actor, id=organization.pk, area="identity_access", need=LEVEL_MANAGE)
    if not organization.is_enterprise:
        raise PermissionDenied("Custom roles are available on Enterprise plans.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the role a name."]})
    levels = _clean_permissions(permissions)
    _require_levels_within(access, levels, "create")
    if name.lower() in {r.replace("_", " ") for r in BUILTIN_ROLE_IDS} | set(BUILTIN_ROLE_IDS):
        raise ValidationError({"name": [f"{name!r} is a built-in role name; choose another."]})
    with transaction.atomic():
        _lock_org(organization)
        if Role.objects.filter(organization=organization, name__iexact=name).exists():
            raise ValidationError({"name": [f"A role named {name!r} already exists."]})
        role = Role.objects.create(organization=organization, name=name, builtin=False, **levels)
        audit_record(actor=actor, organization=organization, action="role.created", target=role,
                     after={"name": name, "permissions": levels}, role=access.role_name)
    return role


def role_update(*, actor, role, name=None, permissions=None):
    """Rename a custom role or change its levels; every holder's permissions follow at once."""
    if role.builtin:
        raise ValidationError("Built-in roles cannot be changed.")
    organization = role.organization
    access = access_organization(actor=actor, id=organization.pk, area="identity_access", need=LEVEL_MANAGE)
    with transaction.atomic():
        _lock_org(organization)
        role = Role.objects.get(pk=role.pk)
        before = {"name": role.name, "permissions": role.permissions}
        if name is not None:
            name = name.strip()
            if not name:
                raise ValidationError({"name": ["Give the role a name."]})
            if Role.objects.filter(organization=organization, name__iexact=name).exclude(pk=role.pk).exists():
                raise ValidationError({"name": [f"A role named {name!r} already exists."]})
            role.name = name
        _require_levels_within(access, role.permissions, "change")
        if permissions is not None:
            _require_levels_within(access, _clean_permissions(permissions, partial_base=role.permissions), "change")
            for area, level in _clean_permissions(permissions, partial_base=role.permissions).items():
                setattr(role, area, level)
        after = {"name": role.name, "permissions": role.permissions}
        if after == before:
            return role
        role.save()
        for membership in Membership.objects.filter(role=role).select_related("role"):
            sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, action="role.updated", target=role,
                     before=before, after=after, role=access.role_name)
    return role


# --- API keys --------------------------------------------------------------------------------


def hash_api_key(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, actor, organization, name, membership=None):
    """Create a key for the actor (or, with Identity & access: manage, for another member).

    Returns (api_key, secret); the secret is never stored and cannot be shown again.
    """
    access = access_organization(actor=actor, id=organization.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the key a name, e.g. the tool that will use it."]})
    if len(name) > 100:
        raise ValidationError({"name": ["Use at most 100 characters."]})
    owner = membership or access.membership
    if owner is None:
        raise ValidationError({"user_id": ["Say which member the key belongs to."]})
    if owner.organization_id != organization.pk:
        raise ValidationError({"user_id": ["That user is not a member of this organization."]})
    if access.membership is None or owner.pk != access.membership.pk:
        access.require("identity_access", LEVEL_MANAGE)
        if not access.role_fits_within(owner.role):
            # a key acts as its owner: minting one for a stronger member would be an escalation
            raise PermissionDenied(
                f"You cannot create a key for {owner.user.email}: their role ({owner.role.name}) has more "
                f"access than yours ({access.role_name})."
            )
    secret = f"{API_KEY_PREFIX}{random_base62(40)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            membership=owner, name=name, key_hash=hash_api_key(secret), key_hint=secret[-4:],
            created_by=actor.user,
        )
        audit_record(actor=actor, organization=organization, action="api_key.created", target=key,
                     after={"name": name, "user_id": owner.user_id, "hint": key.key_hint},
                     role=access.role_name)
    return key, secret


def api_key_revoke(*, actor, api_key):
    """Revoke a key (its owner, or Identity & access: manage). It stops working at once."""
    organization = api_key.membership.organization
    access = access_organization(actor=actor, id=organization.pk)
    if access.membership is None or api_key.membership_id != access.membership.pk:
        access.require("identity_access", LEVEL_MANAGE)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if key.revoked_at is not None:
            return key
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, organization=organization, action="api_key.revoked", target=key,
                     before={"active": True}, after={"active": False}, role=access.role_name)
    api_key.revoked_at = key.revoked_at
    return key


def api_key_touch(api_key):
    """Record use, at most once a minute per key (not audited: it is not a change)."""
    now = timezone.now()
    last = api_key.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# --- workspaces -----------------------------------------------------------------------------


def inference_geo_codes():
    return list(Geo.objects.filter(inference=True).values_list("code", flat=True))


def workspace_geo_codes():
    return list(Geo.objects.filter(workspace=True).values_list("code", flat=True))


def clean_data_residency(data, *, current=None):
    """Validate a `data_residency` object, merged over `current` (a partial update) if given.

    Returns the full, normalized object. Raises ValidationError naming each bad field.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError({"data_residency": ["Must be an object."]})
    creating = current is None
    base = current or {
        "workspace_geo": "us",
        "allowed_inference_geos": UNRESTRICTED,
        "default_inference_geo": "global",
    }
    errors = {}
    unknown = set(data) - {"workspace_geo", "allowed_inference_geos", "default_inference_geo"}
    for field in sorted(unknown):
        errors[f"data_residency.{field}"] = ["Unknown field."]
    inference_geos = inference_geo_codes()
    merged = dict(base)
    if "workspace_geo" in data:
        if not creating:
            errors["data_residency.workspace_geo"] = [
                "workspace_geo is chosen when a workspace is created and can never be changed."
            ]
        else:
            geos = workspace_geo_codes()
            if data["workspace_geo"] not in geos:
                errors["data_residency.workspace_geo"] = [
                    f"{data['workspace_geo']!r} is not an available workspace geo; use one of: {', '.join(geos)}."
                ]
            else:
                merged["workspace_geo"] = data["workspace_geo"]
    if "allowed_inference_geos" in data:
        allowed = data["allowed_inference_geos"]
        if allowed == UNRESTRICTED:
            merged["allowed_inference_geos"] = UNRESTRICTED
        elif not isinstance(allowed, list) or not allowed or not all(isinstance(g, str) for g in allowed):
            errors["data_residency.allowed_inference_geos"] = [
                f'Must be "unrestricted" or a non-empty list drawn from {", ".join(inference_geos)}.'
            ]
        elif len(set(allowed)) != len(allowed):
            errors["data_residency.allowed_inference_geos"] = ["List each geo at most once."]
        elif set(allowed) - set(inference_geos):
            bad = ", ".join(sorted(set(allowed) - set(inference_geos)))
            errors["data_residency.allowed_inference_geos"] = [
                f"Unknown geo {bad}; valid values are {', '.join(inference_geos)}."
            ]
        else:
            merged["allowed_inference_geos"] = list(allowed)
    if "default_inference_geo" in data:
        default = data["default_inference_geo"]
        if default not in inference_geos:
            errors["data_residency.default_inference_geo"] = [
                f"{default!r} is not a valid inference geo; use one of: {', '.join(inference_geos)}."
            ]
        else:
            merged["default_inference_geo"] = default
    if not errors:
        allowed = merged["allowed_inference_geos"]
        if allowed != UNRESTRICTED and merged["default_inference_geo"] not in allowed:
            errors["data_residency.default_inference_geo"] = [
                f"{merged['default_inference_geo']!r} is not in allowed_inference_geos "
                f"({', '.join(allowed)}); choose one of those"
                + ("" if "default_inference_geo" in data else " and send default_inference_geo too")
                + "."
            ]
    if errors:
        raise ValidationError(errors)
    return merged


def _apply_residency(workspace, residency):
    workspace.workspace_geo = residency["workspace_geo"]
    allowed = residency["allowed_inference_geos"]
    workspace.allowed_inference_geos = None if allowed == UNRESTRICTED else list(allowed)
    workspace.default_inference_geo = residency["default_inference_geo"]


def _clean_workspace_name(name):
    name = (name or "").strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not name:
        raise ValidationError({"name": ["Give the workspace a name."]})
    if len(name) > 200:
        raise ValidationError({"name": ["Use at most 200 characters."]})
    return name


def workspace_create(*, actor, organization, name, data_residency=None):
    """Create a workspace (Privacy: manage). workspace_geo is fixed from here on.

    At most 100 active workspaces per organization (checked under the organization lock).
    Anyone else gets a 403 (the collection itself is visible to every member).
    """
    access = access_organization(actor=actor, id=organization.pk)
    if not access.can("privacy", LEVEL_MANAGE):
        with transaction.atomic():
            audit_record(actor=actor, organization=organization, action="workspace.residency_change_denied",
                         target=("workspace", "", str(name or "")[:300]),
                         after={"name": name, "data_residency": data_residency}, outcome="denied",
                         role=access.role_name)
        access.require("privacy", LEVEL_MANAGE)
    name = _clean_workspace_name(name)
    residency = clean_data_residency(data_residency)
    with transaction.atomic():
        _lock_org(organization)
        active = Workspace.objects.filter(organization=organization, archived_at__isnull=True).count()
        if active >= MAX_ACTIVE_WORKSPACES:
            raise ValidationError(
                f"This organization already has {MAX_ACTIVE_WORKSPACES} active workspaces, the most allowed; "
                "archive one before creating another."
            )
        workspace = Workspace(organization=organization, name=name)
        _apply_residency(workspace, residency)
        workspace.save()
        audit_record(actor=actor, organization=organization, action="workspace.created", target=workspace,
                     after={"name": name, "data_residency": workspace.data_residency}, role=access.role_name)
    return workspace


def workspace_update(*, actor, workspace, name=None, data_residency=None):
    """Rename and/or change data residency (Privacy: manage or workspace admin).

    `data_residency` is a partial update: fields left out keep their values; the merged
    result must be valid. A member who may only view it gets a 403 and an audit record.
    """
    access_level_need = LEVEL_MANAGE
    denial = None
    try:
        workspace, access = access_workspace(actor=actor, id=workspace.pk, need=access_level_need)
    except PermissionDenied as exc:
        denial = exc
        workspace, access = access_workspace(actor=actor, id=workspace.pk)
    organization = workspace.organization
    if denial is not None:
        with transaction.atomic():
            audit_record(actor=actor, organization=organization, action="workspace.residency_change_denied",
                         target=workspace, before=workspace.data_residency,
                         after={"name": name, "data_residency": data_residency}, outcome="denied",
                         role=access.role_name)
        raise denial
    if workspace.is_archived:
        raise ValidationError("This workspace is archived; archived workspaces cannot be changed.")
    if name is not None and name != workspace.name and not access.can("privacy", LEVEL_MANAGE):
        # delegation covers the workspace's data residency only (SPEC §2)
        with transaction.atomic():
            audit_record(actor=actor, organization=organization, action="workspace.residency_change_denied",
                         target=workspace, before={"name": workspace.name},
                         after={"name": name, "data_residency": data_residency}, outcome="denied",
                         role=access.role_name)
        raise PermissionDenied(
            f"Renaming workspace {workspace.name} needs Privacy: manage; as its workspace admin you may "
            "change its data residency only."
        )
    new_name = _clean_workspace_name(name) if name is not None else None
    residency = clean_data_residency(data_residency, current=workspace.data_residency) \
        if data_residency is not None else None
    with transaction.atomic():
        _lock_org(organization)
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        before = {"name": ws.name, "data_residency": ws.data_residency}
        if new_name is not None:
            ws.name = new_name
        if residency is not None:
            _apply_residency(ws, residency)
        after = {"name": ws.name, "data_residency": ws.data_residency}
        if after == before:
            return ws
        ws.save()
        changed_before, changed_after = _diff(before, after)
        audit_record(actor=actor, organization=organization, action="workspace.updated", target=ws,
                     before=changed_before, after=changed_after, role=access.role_name)
    return ws


def _diff(before, after):
    b, a = {}, {}
    for key in after:
        if isinstance(after[key], dict):
            sub_b, sub_a = _diff(before[key], after[key])
            if sub_a:
                b[key], a[key] = sub_b, sub_a
        elif before.get(key) != after[key]:
            b[key], a[key] = before.get(key), after[key]
    return b, a


def workspace_archive(*, actor, workspace):
    """Archive a workspace, permanently (Privacy: manage).

    Whoever cannot see the workspace gets a 404; a viewer or a delegated workspace admin
    (who manages its residency, not its life) gets a 403.
    """
    workspace, access = access_workspace(actor=actor, id=workspace.pk)
    access.require("privacy", LEVEL_MANAGE)
    organization = workspace.organization
    with transaction.atomic():
        _lock_org(organization)
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if ws.archived_at is not None:
            return ws
        ws.archived_at = timezone.now()
        ws.save(update_fields=["archived_at"])
        audit_record(actor=actor, organization=organization, action="workspace.archived", target=ws,
                     before={"archived_at": None}, after={"archived_at": ws.archived_at.isoformat()},
                     role=access.role_name)
    return ws


def workspace_admin_set(*, actor, workspace, membership, admin):
    """Make a member admin of one workspace (or stop it): they may then manage its residency.

    Needs Privacy: manage; whoever cannot see the workspace gets a 404, a viewer or the
    workspace's own admin a 403 (delegation does not delegate further).
    """
    workspace, access = access_workspace(actor=actor, id=workspace.pk)
    access.require("privacy", LEVEL_MANAGE)
    organization = workspace.organization
    if membership.organization_id != organization.pk:
        raise ValidationError({"user_id": ["That user is not a member of this organization."]})
    from django.contrib.auth.models import Permission

    perm = Permission.objects.get(codename=WORKSPACE_ADMIN_PERM, content_type__app_label="orgs")
    with transaction.atomic():
        existing = WorkspaceUserObjectPermission.objects.filter(
            user_id=membership.user_id, content_object=workspace, permission=perm
        )
        if admin == existing.exists():
            return
        if admin:
            WorkspaceUserObjectPermission.objects.create(
                user_id=membership.user_id, content_object=workspace, permission=perm
            )
        else:
            existing.delete()
        audit_record(actor=actor, organization=organization,
                     action="workspace.admin_granted" if admin else "workspace.admin_revoked",
                     target=workspace, after={"user_id": membership.user_id, "email": membership.user.email},
                     role=access.role_name)

