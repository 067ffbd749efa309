"""Every write to organizations, members, roles, API keys and workspaces (SPEC §2).

Each service is keyword-only, takes an `actor`, runs in one transaction, checks permission
through `orgs.permissions` and writes its audit record inside that transaction. Console
views, REST views, the Django admin and management commands all call these.
"""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit import events
from audit.models import Outcome
from audit.services import audit_record
from core.hygiene import name_problem
from core.ids import random_base62

from . import mail
from .models import (
    API_KEY_PREFIX,
    AREA_LEVELS,
    AREAS,
    ApiKey,
    ApiKeyStatus,
    BuiltinRole,
    EmailKind,
    Level,
    Membership,
    Organization,
    Plan,
    Role,
    User,
    hash_api_key,
    normalize_email,
)
from .permissions import (
    access_organization,
    is_trusted_operator,
    may_create_key_for,
    may_transfer_primary_owner,
    require_levels_within,
    require_may_assign_role,
    require_may_change_key,
    require_may_create_key_for,
    require_may_manage_member,
    revoke_member_permissions,
    role_label,
    sync_member_permissions,
)

LAST_USED_RESOLUTION_SECONDS = 60


def lock_organization(organization):
    """The organization row, locked for this transaction: services that change an
    organization's members, roles, workspaces or settings queue here."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def snapshot_organization(org):
    return {
        "name": org.name,
        "plan": org.plan,
        "us_only": org.us_only_inference,
        "lock_reason": org.lock_reason,
        "legacy_opt_out": org.legacy_opt_out,
    }


# --- organizations --------------------------------------------------------------------------


def organization_create(*, actor, name, plan, owner_email, owner_password=None, **terms):
    """Create an organization with its primary owner (an existing or new user). Operators only.

    `terms` (us_only_inference, lock_reason, legacy_opt_out) are set on the new row as given;
    `residency.services.organization_provision` decides them and is what callers use.
    """
    if not is_trusted_operator(actor):
        raise PermissionDenied("Only platform operators can create organizations.")
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the organization a name."]
    elif problem := name_problem(name):
        errors["name"] = [problem]
    if plan not in Plan.values:
        errors["plan"] = [f"Unknown plan {plan!r}; use one of {', '.join(Plan.values)}."]
    email = normalize_email(owner_email)
    if "@" not in email:
        errors["owner_email"] = ["Give the owner's email address."]
    existing = User.objects.filter(email=email).first() if not errors.get("owner_email") else None
    if owner_password and existing is not None:
        # nobody but the account's owner sets its password (SPEC §4, §6)
        errors["owner_password"] = [
            f"An account for {email} already exists; its password cannot be set here. Leave out "
            "--owner-password: the existing account becomes the primary owner and keeps its own password."]
    elif owner_password:
        try:
            validate_password(owner_password, user=User(email=email))
        except ValidationError as exc:
            errors["owner_password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        org = Organization.objects.create(name=name, plan=plan, **terms)
        user, created = _account_for_email(email, password=owner_password)
        membership = Membership.objects.create(user=user, organization=org, role_id=BuiltinRole.PRIMARY_OWNER)
        sync_member_permissions(membership)
        role = role_label(actor, org)
        audit_record(actor=actor, organization=org, event=events.ORGANIZATION_CREATED, target=org,
                     after=snapshot_organization(org), role=role)
        audit_record(actor=actor, organization=org, event=events.MEMBER_ADDED, target=membership.user,
                     after={"email": user.email, "role": BuiltinRole.PRIMARY_OWNER}, role=role)
        if not (created and owner_password):
            _welcome(user, org, invited_by=_person_label(actor), role_name="Primary owner")
    return org, membership


def _account_for_email(email, *, password=None):
    """(user, created) for an email: the existing account, untouched, or a new one. A new account
    has no usable password unless a trusted operator gave one; its owner chooses it through the
    invitation only they receive. Credentials of an existing account are never changed here."""
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    return User.objects.create_user(email=email, password=password), True


def _welcome(user, organization, *, invited_by, role_name):
    """After commit, email the person: an invitation to choose a password if they have none yet
    (the link goes to them alone), else a notice that they were added."""
    kind = EmailKind.MEMBERSHIP_NOTICE if user.has_usable_password() else EmailKind.INVITATION
    mail.queue(kind=kind, user=user, organization=organization, invited_by=invited_by, role_name=role_name)


def organization_rename(*, actor, organization, name):
    """Rename an organization (Identity & access: manage, or an operator)."""
    if not is_trusted_operator(actor):
        access_organization(actor=actor, id=organization.pk, area="identity_access", need=Level.MANAGE)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the organization a name."]})
    if problem := name_problem(name):
        raise ValidationError({"name": [problem]})
    with transaction.atomic():
        org = lock_organization(organization)
        if org.name == name:
            return org
        before = {"name": org.name}
        org.name = name
        org.save(update_fields=["name"])
        audit_record(actor=actor, organization=org, event=events.ORGANIZATION_UPDATED, target=org,
                     before=before, after={"name": name}, role=role_label(actor, org))
    organization.name = name
    return org


# --- members and roles ------------------------------------------------------------------------


def _role_for(organization, role_id):
    role = Role.objects.filter(pk=role_id).first()
    if role is None or (not role.builtin and role.organization_id != organization.pk):
        raise ValidationError({"role": [
            f"Unknown role {role_id!r}: use one of {', '.join(BuiltinRole.values)} or a custom role id of this organization."
        ]})
    return role



def member_add(*, actor, organization, email, role_id):
    """Add a person (by email) to the organization with a role. User management: manage."""
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=Level.MANAGE)
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise ValidationError({"email": ["Enter a valid email address."]})
    role = _role_for(organization, role_id)
    if role.pk == BuiltinRole.PRIMARY_OWNER:
        raise ValidationError({"role": ["There is exactly one primary owner; transfer the title instead."]})
    require_may_assign_role(access, role)
    with transaction.atomic():
        lock_organization(organization)
        user, _ = _account_for_email(email)
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise ValidationError({"email": [f"{email} is already a member of {organization.name}."]})
        membership = Membership.objects.create(user=user, organization=organization, role=role)
        sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, event=events.MEMBER_ADDED, target=user,
                     after={"email": email, "role": role.pk}, role=access.role_name)
        _welcome(user, organization, invited_by=_person_label(actor), role_name=role.name)
    return membership


def _person_label(actor):
    """Who to name in an email: the person, also when they act with an API key (a command: nobody)."""
    return actor.user.display_name if actor.user is not None else ""


def member_change_role(*, actor, membership, role_id):
    """Change a member's role. Making someone primary_owner transfers the title."""
    if role_id == BuiltinRole.PRIMARY_OWNER:
        return primary_owner_transfer(actor=actor, organization=membership.organization, to_membership=membership)
    organization = membership.organization
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=Level.MANAGE)
    role = _role_for(organization, role_id)
    with transaction.atomic():
        lock_organization(organization)
        membership = Membership.objects.select_related("role", "user").get(pk=membership.pk)
        if membership.role_id == BuiltinRole.PRIMARY_OWNER:
            raise ValidationError({"role": [
                "The primary owner's role cannot be changed; the primary owner must transfer the title first."
            ]})
        require_may_manage_member(access, membership)
        require_may_assign_role(access, role)
        if membership.role_id == role.pk:
            return membership
        before = {"role": membership.role_id}
        membership.role = role
        membership.save(update_fields=["role"])
        sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, event=events.MEMBER_ROLE_CHANGED,
                     target=membership.user, before=before, after={"role": role.pk}, role=access.role_name)
    return membership


def member_remove(*, actor, membership):
    """Remove a member: their API keys stop working and their permissions go with them."""
    organization = membership.organization
    access = access_organization(actor=actor, id=organization.pk, area="user_management", need=Level.MANAGE)
    with transaction.atomic():
        lock_organization(organization)
        membership = Membership.objects.select_related("role", "user").get(pk=membership.pk)
        if membership.role_id == BuiltinRole.PRIMARY_OWNER:
            raise ValidationError("The primary owner cannot be removed; transfer the title first.")
        require_may_manage_member(access, membership)
        revoke_member_permissions(membership)
        now = timezone.now()
        for key in ApiKey.objects.filter(membership=membership).exclude(status=ApiKeyStatus.ARCHIVED):
            # the keys go with the membership (paused ones too); record that each one is archived
            before = key.status
            key.status, key.revoked_at = ApiKeyStatus.ARCHIVED, now
            key.save(update_fields=["status", "revoked_at"])
            audit_record(actor=actor, organization=organization, event=events.API_KEY_REVOKED, target=key,
                         before={"status": before}, after={"status": key.status, "reason": "member removed"},
                         role=access.role_name)
        before = {"email": membership.user.email, "role": membership.role_id}
        user = membership.user
        membership.delete()
        audit_record(actor=actor, organization=organization, event=events.MEMBER_REMOVED, target=user,
                     before=before, role=access.role_name)


def primary_owner_transfer(*, actor, organization, to_membership):
    """Hand the primary-owner title to another member; the old primary owner becomes owner.

    Only the primary owner, in person or with a key they created themself: a key someone else
    minted for them acts at most as its maker, who is not the primary owner (SPEC §3)."""
    access = access_organization(actor=actor, id=organization.pk)
    if not may_transfer_primary_owner(access):
        raise PermissionDenied(
            "Only the primary owner can transfer primary ownership, in person or with an API key they created "
            "themself." if access.through_foreign_key else "Only the primary owner can transfer primary ownership.")
    with transaction.atomic():
        lock_organization(organization)
        current = Membership.objects.select_related("user").get(organization=organization, role_id=BuiltinRole.PRIMARY_OWNER)
        target = Membership.objects.select_related("user").filter(pk=to_membership.pk, organization=organization).first()
        if target is None:
            raise ValidationError({"user": ["The new primary owner must be a member of this organization."]})
        if target.pk == current.pk:
            return target
        before_target_role = target.role_id
        current.role_id = BuiltinRole.OWNER
        current.save(update_fields=["role"])
        target.role_id = BuiltinRole.PRIMARY_OWNER
        target.save(update_fields=["role"])
        for m in (current, target):
            m.role = Role.objects.get(pk=m.role_id)
            sync_member_permissions(m)
        audit_record(actor=actor, organization=organization, event=events.PRIMARY_OWNER_TRANSFERRED,
                     target=target.user,
                     before={"primary_owner": current.user.email, "role": before_target_role},
                     after={"primary_owner": target.user.email, "previous_primary_owner_role": BuiltinRole.OWNER},
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
    base = dict(partial_base) if partial_base else {area: Level.NONE for area in AREAS}
    base.update(permissions)
    return base


def role_create(*, actor, organization, name, permissions):
    """Create a custom role (Enterprise plans; Identity & access: manage). Missing areas: none."""
    access = access_organization(actor=actor, id=organization.pk, area="identity_access", need=Level.MANAGE)
    if not organization.is_enterprise:
        raise PermissionDenied("Custom roles are available on Enterprise plans.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the role a name."]})
    levels = _clean_permissions(permissions)
    require_levels_within(access, levels, "create")
    if name.lower() in {r.replace("_", " ") for r in BuiltinRole.values} | set(BuiltinRole.values):
        raise ValidationError({"name": [f"{name!r} is a built-in role name; choose another."]})
    with transaction.atomic():
        lock_organization(organization)
        if Role.objects.filter(organization=organization, name__iexact=name).exists():
            raise ValidationError({"name": [f"A role named {name!r} already exists."]})
        role = Role.objects.create(organization=organization, name=name, builtin=False, **levels)
        audit_record(actor=actor, organization=organization, event=events.ROLE_CREATED, target=role,
                     after={"name": name, "permissions": levels}, role=access.role_name)
    return role


def role_update(*, actor, role, name=None, permissions=None):
    """Rename a custom role or change its levels; every holder's permissions follow at once."""
    if role.builtin:
        raise ValidationError("Built-in roles cannot be changed.")
    organization = role.organization
    access = access_organization(actor=actor, id=organization.pk, area="identity_access", need=Level.MANAGE)
    with transaction.atomic():
        lock_organization(organization)
        role = Role.objects.get(pk=role.pk)
        before = {"name": role.name, "permissions": role.permissions}
        if name is not None:
            name = name.strip()
            if not name:
                raise ValidationError({"name": ["Give the role a name."]})
            if Role.objects.filter(organization=organization, name__iexact=name).exclude(pk=role.pk).exists():
                raise ValidationError({"name": [f"A role named {name!r} already exists."]})
            role.name = name
        require_levels_within(access, role.permissions, "change")
        if permissions is not None:
            require_levels_within(access, _clean_permissions(permissions, partial_base=role.permissions), "change")
            for area, level in _clean_permissions(permissions, partial_base=role.permissions).items():
                setattr(role, area, level)
        after = {"name": role.name, "permissions": role.permissions}
        if after == before:
            return role
        role.save()
        for membership in Membership.objects.filter(role=role).select_related("role"):
            sync_member_permissions(membership)
        audit_record(actor=actor, organization=organization, event=events.ROLE_UPDATED, target=role,
                     before=before, after=after, role=access.role_name)
    return role


# --- API keys --------------------------------------------------------------------------------


def api_key_create(*, actor, organization, name, membership=None):
    """Create a key for the actor, or, with Identity & access: manage, for a member strictly
    below them (`permissions.require_may_create_key_for`; never the primary owner nor an equal).

    The key's creator is the person whose authority it carries: the actor, or, when the actor
    uses a key, that key's creator, so a chain of keys never outranks its first maker.
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
    require_may_create_key_for(access, owner)
    creator = actor.api_key.created_by if actor.api_key is not None else actor.user
    secret = f"{API_KEY_PREFIX}{random_base62(40)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            membership=owner, name=name, key_hash=hash_api_key(secret), key_hint=secret[-4:],
            created_by=creator,
        )
        audit_record(actor=actor, organization=organization, event=events.API_KEY_CREATED, target=key,
                     after={"name": name, "user_id": owner.user_id, "hint": key.key_hint},
                     role=access.role_name)
    return key, secret


def _archive(actor, organization, access, key):
    """Archive `key` (locked by the caller's transaction) and record it; no-op if archived."""
    if key.status == ApiKeyStatus.ARCHIVED:
        return
    before = key.status
    key.status, key.revoked_at = ApiKeyStatus.ARCHIVED, timezone.now()
    key.save(update_fields=["status", "revoked_at"])
    audit_record(actor=actor, organization=organization, event=events.API_KEY_REVOKED, target=key,
                 before={"status": before}, after={"status": key.status}, role=access.role_name)


def api_key_revoke(*, actor, api_key):
    """Revoke a key for good: it becomes `archived` (its owner, or Identity & access: manage).
    It stops working at once; revoking an archived key changes nothing."""
    organization = api_key.membership.organization
    access = access_organization(actor=actor, id=organization.pk)
    require_may_change_key(access, api_key)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        _archive(actor, organization, access, key)
    api_key.status, api_key.revoked_at = key.status, key.revoked_at
    return key


def api_key_update(*, actor, api_key, name=None, status=None):
    """Rename a key and/or change its status (SPEC §9), under the rules of revoking: its owner, or
    Identity & access: manage. `inactive` pauses an active key, `archived` revokes it for good,
    `active` resumes a paused one, which only someone who may create keys for its member may do
    (`orgs.permissions.may_create_key_for`). An archived key cannot be changed; asking for what
    already holds changes nothing. None leaves a field as it is."""
    organization = api_key.membership.organization
    access = access_organization(actor=actor, id=organization.pk)
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": ["Give the key a name, e.g. the tool that will use it."]})
        if len(name) > 100:
            raise ValidationError({"name": ["Use at most 100 characters."]})
    if status is not None and status not in ApiKeyStatus.values:
        raise ValidationError({"status": [f"Use one of {', '.join(ApiKeyStatus.values)}."]})
    require_may_change_key(access, api_key)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().select_related("membership__role", "membership__user").get(
            pk=api_key.pk)
        renamed = name is not None and name != key.name
        if key.status == ApiKeyStatus.ARCHIVED:
            field = "status" if status not in (None, ApiKeyStatus.ARCHIVED) else "name" if renamed else None
            if field is not None:
                raise ValidationError({field: ["This key is archived (revoked for good): it cannot be changed or "
                                               "resumed. Create a new key instead."]})
            return key
        if status == ApiKeyStatus.ACTIVE and key.status == ApiKeyStatus.INACTIVE and \
                not may_create_key_for(access, key.membership):
            raise PermissionDenied(
                f"You cannot resume this key: only someone who may create keys for {key.membership.user.email} "
                f"({key.membership.role.name}) may resume one; your role is {access.role_name}.")
        before, after = {}, {}
        if renamed:
            before["name"], after["name"] = key.name, name
            key.name = name
        if status in (ApiKeyStatus.ACTIVE, ApiKeyStatus.INACTIVE) and status != key.status:
            before["status"], after["status"] = key.status, status
            key.status = status
        if after:
            key.save(update_fields=list(after))
            audit_record(actor=actor, organization=organization, event=events.API_KEY_UPDATED, target=key,
                         before=before, after=after, role=access.role_name)
        if status == ApiKeyStatus.ARCHIVED:
            _archive(actor, organization, access, key)
    return key


def api_key_touch(api_key):
    """Record use, at most once a minute per key (not audited: it is not a change)."""
    now = timezone.now()
    last = api_key.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# --- sign-in and two-factor ---------------------------------------------------------------------


def sign_in_lockout_record(*, actor, email, failures, minutes):
    """Record a sign-in lockout in the audit log of every organization the account belongs to
    (SPEC §6). `actor` is the sign-in protection acting on the request (no user)."""
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None:
        return 0
    memberships = list(Membership.objects.filter(user=user).select_related("organization"))
    with transaction.atomic():
        for membership in memberships:
            audit_record(actor=actor, organization=membership.organization, event=events.SIGN_IN_LOCKED_OUT,
                         target=user, outcome=Outcome.DENIED,
                         after={"email": user.email, "failures": failures, "locked_minutes": minutes})
    return len(memberships)


def two_factor_changed_record(*, actor, user, enabled):
    """Record that a person turned two-factor sign-in on or off, in each of their organizations."""
    memberships = list(Membership.objects.filter(user=user).select_related("organization", "role"))
    with transaction.atomic():
        for membership in memberships:
            audit_record(actor=actor, organization=membership.organization, event=events.TWO_FACTOR_CHANGED,
                         target=user, after={"email": user.email, "enabled": enabled},
                         role=membership.role.name)


def organization_two_factor_requirement_set(*, actor, organization, required):
    """Require two-factor sign-in of members who hold `manage` on any area (or stop requiring
    it). The primary owner only, in person or with a key they created themself. Audited."""
    access = access_organization(actor=actor, id=organization.pk)
    if not access.is_primary_owner:
        raise PermissionDenied("Only the primary owner can change the two-factor requirement.")
    required = bool(required)
    with transaction.atomic():
        org = lock_organization(organization)
        if org.require_two_factor == required:
            return org
        org.require_two_factor = required
        org.save(update_fields=["require_two_factor"])
        audit_record(actor=actor, organization=org, event=events.TWO_FACTOR_REQUIREMENT_CHANGED, target=org,
                     before={"require_two_factor": not required}, after={"require_two_factor": required},
                     role=access.role_name)
    organization.require_two_factor = required
    return org
