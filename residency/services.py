"""Every write about where inference runs (SPEC §2, §3): the organization's plan, locks and
US-only setting, workspaces and their data residency, the migration of legacy opt-outs, and
usage ingestion.

Each service is keyword-only, takes an `actor`, runs in one transaction, checks permission
through `residency.permissions` / `orgs.permissions` and writes its audit record inside that
transaction. Usage rows are data reported by the platform, not changes to settings, so
ingestion writes no audit records.
"""

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone

from audit import events
from audit.models import Outcome
from audit.services import audit_record, client_value
from core.actor import Actor, Source
from core.errors import Conflict, DetailedValidationError
from core.hygiene import MAX_YEAR, MIN_YEAR, MalformedInput, check_datetime_range, name_problem
from orgs.models import MAX_ACTIVE_WORKSPACES, Level, LockReason, Organization, Plan, Workspace, WorkspaceUserObjectPermission
from orgs.permissions import access_organization, is_trusted_operator, role_label
from orgs.services import lock_organization, organization_create, snapshot_organization

from . import approvals
from .models import (
    SERVICE_TIERS,
    ApprovalSettings,
    CatalogModel,
    ChangeRequest,
    ChangeStatus,
    ChangeTarget,
    DataResidencyPolicy,
    Geo,
    Surface,
    UsageRecord,
    UsageRollup,
)
from .permissions import (
    WORKSPACE_ADMIN_PERM,
    access_change_request,
    access_workspace,
    can_manage_workspaces,
    decision_refusal,
    require_impact_view,
    require_inference_residency_exists,
    require_manage_workspaces,
    require_usage_ingest,
    residency_unavailable_message,
    withdrawal_refusal,
)
from .policy import (
    NOT_AVAILABLE,
    UNRESTRICTED,
    bring_inside_policy,
    clean_data_residency,
    clean_display_color,
    clean_inference_geos,
    clean_tags,
    loosens,
    policy_info_from,
    policy_violation,
    project_policy,
    project_us_only,
    project_workspace,
    workspace_outside_policy,
)
from .reports import MAX_IMPACT_DAYS, residency_impact
from .selectors import policy_info, policy_of, policy_values

LOCK_REASON_SENTENCES = {
    LockReason.LEGACY_OPT_OUT: "this organization opted out of global routing before the setting existed",
    LockReason.CONTRACT: "US-only inference is part of this organization's contract",
}


# --- organizations: plan, locks and US-only inference -------------------------------------------


def _check_lock_and_plan(plan, lock_reason, errors):
    if lock_reason is not None and lock_reason not in LockReason.values:
        errors["lock_reason"] = [f"Unknown lock reason {lock_reason!r}; use one of {', '.join(LockReason.values)}."]
    elif lock_reason is not None and plan != Plan.ENTERPRISE_USAGE:
        errors["lock_reason"] = [
            "US-only inference (and so a lock on it) exists only on the usage-based Enterprise plan; "
            f"this organization would be on {Plan(plan).label if plan in Plan.values else repr(plan)}."]


def organization_provision(*, actor, name, plan, owner_email, owner_password=None, lock_reason=None,
                           legacy_opt_out=False):
    """Create an organization with its primary owner and its residency terms (operators only).

    A lock exists only on the usage-based Enterprise plan and turns US-only inference on. A
    legacy opt-out is in its migrated state at once (SPEC §2 Migration): on the usage-based plan
    `legacy_opt_out` and a `legacy_opt_out` lock imply each other; on every plan the policy is
    ["us"] / "us". Returns (organization, primary membership).
    """
    lock_reason = lock_reason or None
    if plan == Plan.ENTERPRISE_USAGE and (legacy_opt_out or lock_reason == LockReason.LEGACY_OPT_OUT):
        legacy_opt_out = True
        lock_reason = lock_reason or LockReason.LEGACY_OPT_OUT
    errors = {}
    _check_lock_and_plan(plan, lock_reason, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        org, membership = organization_create(
            actor=actor, name=name, plan=plan, owner_email=owner_email, owner_password=owner_password,
            lock_reason=lock_reason, us_only_inference=lock_reason is not None, legacy_opt_out=bool(legacy_opt_out))
        if legacy_opt_out:
            legacy_optout_migrate(actor=actor, organization=org)
    return org, membership


def organization_terms_update(*, actor, organization, reason="", **changes):
    """Change plan, US-only lock or legacy flag (platform operators only; SPEC §2).

    A lock exists only on the usage-based Enterprise plan and turns US-only on; adding or
    removing one needs a `reason`, recorded in the audit log; a locked organization's plan
    cannot change until the lock is removed. Leaving the usage-based plan turns an unlocked
    US-only setting off. Flagging a legacy opt-out brings it to its migrated state at once;
    removing a legacy_opt_out lock clears the flag.
    """
    unknown = set(changes) - {"plan", "lock_reason", "legacy_opt_out"}
    if unknown:
        raise ValidationError(f"Unknown organization fields: {', '.join(sorted(unknown))}.")
    if not is_trusted_operator(actor):
        raise PermissionDenied("Plan and lock changes are made by platform operators.")
    reason = (reason or "").strip()
    with transaction.atomic():
        org = lock_organization(organization)
        before = snapshot_organization(org)
        errors = {}
        plan = changes.get("plan", org.plan)
        if plan not in Plan.values:
            errors["plan"] = [f"Unknown plan {plan!r}; use one of {', '.join(Plan.values)}."]
        lock = (changes["lock_reason"] or None) if "lock_reason" in changes else org.lock_reason
        legacy = bool(changes.get("legacy_opt_out", org.legacy_opt_out))
        if legacy and not org.legacy_opt_out and plan == Plan.ENTERPRISE_USAGE and lock is None:
            lock = LockReason.LEGACY_OPT_OUT  # flagging a usage-plan legacy opt-out locks it (§2)
        if lock == LockReason.LEGACY_OPT_OUT and org.lock_reason != lock:
            legacy = True  # and the legacy_opt_out lock is a legacy opt-out: migrated at once below
        if plan != org.plan and org.lock_reason and lock:
            errors["plan"] = [f"US-only inference is locked ({org.get_lock_reason_display()}); remove the lock, "
                              "with a reason, before changing the plan."]
        if lock and org.lock_reason and lock != org.lock_reason:
            errors["lock_reason"] = [f"US-only inference is already locked ({org.lock_reason}); remove that lock "
                                     "first."]
        elif not errors:
            _check_lock_and_plan(plan, lock, errors)
        lock_changed = lock != org.lock_reason
        if lock_changed and not reason:
            errors["reason"] = ["Say why the lock is added or removed; the reason is recorded in the audit log."]
        if errors:
            raise ValidationError(errors)
        if lock_changed and org.lock_reason == LockReason.LEGACY_OPT_OUT:
            legacy = False  # no longer treated as a legacy opt-out (re-running the migration must not re-lock)
        old_lock = org.lock_reason
        org.plan, org.lock_reason, org.legacy_opt_out = plan, lock, legacy
        if lock:
            org.us_only_inference = True
        if org.plan != Plan.ENTERPRISE_USAGE and not org.lock_reason:
            org.us_only_inference = False
        after = snapshot_organization(org)
        if after == before:
            return org
        org.save()
        role = role_label(actor, org)
        if lock_changed and lock:
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_LOCKED, target=org,
                         before={"us_only": before["us_only"], "lock_reason": old_lock},
                         after={"us_only": True, "lock_reason": lock, "reason": reason}, role=role)
        elif lock_changed:
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_UNLOCKED, target=org,
                         before={"lock_reason": old_lock}, after={"lock_reason": None, "reason": reason}, role=role)
        # the lock event carries the lock (and, when added, US-only turning on); the rest is an update
        covered = {"lock_reason", "us_only"} if lock_changed and lock else {"lock_reason"} if lock_changed else set()
        rest = [k for k in after if before[k] != after[k] and k not in covered]
        if rest:
            audit_record(actor=actor, organization=org, event=events.ORGANIZATION_UPDATED, target=org,
                         before={k: before[k] for k in rest}, after={k: after[k] for k in rest}, role=role)
        if legacy and not before["legacy_opt_out"]:
            legacy_optout_migrate(actor=actor, organization=org)
    organization.refresh_from_db()
    return org


def inference_residency_refuse_hidden(*, actor, organization, us_only):
    """Step 1 of SPEC §2 for a change of US-only inference: 404 when the organization has no
    such setting (naming the plan) or the member cannot see it (Privacy: none), the latter
    audited with a bounded summary of `us_only` as sent, since it is not validated yet (§7).
    Returns the member's Access. Views call it before they refuse malformed input."""
    if not organization.residency_available and not organization.locked:
        raise Http404(residency_unavailable_message(organization))
    access = access_organization(actor=actor, id=organization.pk)
    if not access.can("privacy"):
        # privacy: none does not see the setting at all, so it is "not found" to them
        with transaction.atomic():
            org = lock_organization(organization)
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_CHANGE_DENIED,
                         target=org, before={"us_only": org.us_only_inference},
                         after={"us_only": client_value(us_only), "denied": "permission"},
                         outcome=Outcome.DENIED, role=access.role_name)
        raise Http404("Not found.")
    return access


def inference_residency_set(*, actor, organization, us_only, change_request=None):
    """Turn US-only inference on or off (enterprise_usage plan, Privacy: manage, not locked).

    Checks in SPEC §2 order: not visible (404, audited: `inference_residency_refuse_hidden`),
    then `us_only` must be a boolean (400, nothing recorded), then Privacy: view or a lock
    (403, audited with the value asked for, in its own transaction, before the error).
    Turning it off loosens residency: when the organization asks for approval (SPEC §8) the
    change is not applied and a pending `ChangeRequest` is returned instead of the organization.
    `change_request` is the approved request being applied (`change_request_approve` only).
    """
    access = inference_residency_refuse_hidden(actor=actor, organization=organization, us_only=us_only)
    if not isinstance(us_only, bool):
        raise ValidationError({"us_only": ["Must be true or false."]})
    denial = None
    with transaction.atomic():
        org = lock_organization(organization)
        before = {"us_only": org.us_only_inference}
        if not access.can("privacy", Level.MANAGE):
            denial = PermissionDenied(
                "Changing US-only inference needs Privacy: Can manage; "
                f"your role ({access.role_name}) has Privacy: Can view."
            )
            reason = "permission"
        elif org.locked and us_only != org.us_only_inference:
            denial = PermissionDenied(
                f"US-only inference is locked on because {LOCK_REASON_SENTENCES[org.lock_reason]}, "
                "and cannot be changed. Existing pricing terms continue; contact your account team."
            )
            reason = f"locked:{org.lock_reason}"
        if denial is not None:
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_CHANGE_DENIED,
                         target=org, before=before, after={"us_only": us_only, "denied": reason},
                         outcome=Outcome.DENIED, role=access.role_name)
        elif us_only != org.us_only_inference:
            after = {"us_only": us_only}
            if _held(org, change_request, before, after):
                return approvals.hold(actor=actor, access=access, organization=org,
                                      target_type=ChangeTarget.INFERENCE_RESIDENCY, target_id=org.pk,
                                      target_label=org.name, before=before, after=after, arguments=after)
            org.us_only_inference = us_only
            org.save(update_fields=["us_only_inference"])
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_UPDATED,
                         target=org, before=before, after=after, role=access.role_name,
                         **approvals.attribution(change_request))
            if change_request is None:
                approvals.notify_change(actor=actor, organization=org, what="US-only inference", before=before,
                                        after=after, path=approvals.console_path("console:residency"))
    if denial is not None:
        raise denial
    organization.us_only_inference = org.us_only_inference
    return org


def _held(organization, change_request, before, after):
    """Whether this change waits for approval: it loosens residency (`policy.loosens`), the
    organization asks for approval, and it is not the approved request being applied."""
    return change_request is None and loosens(before, after) and approvals.required(organization)


# --- workspaces -------------------------------------------------------------------------------


def inference_geo_codes():
    return list(Geo.objects.filter(inference=True).values_list("code", flat=True))


def workspace_geo_codes():
    return list(Geo.objects.filter(workspace=True).values_list("code", flat=True))


def data_residency_clean(data, *, organization, current=None):
    """`policy.clean_data_residency` against the geos in the database, bounded by the
    organization's policy (SPEC §5): a new workspace starts from the policy's values, and
    allowed geos or a default outside the policy are refused naming it."""
    geos = list(Geo.objects.values_list("code", "inference", "workspace"))
    policy = policy_info(policy_of(organization))
    defaults = None
    if current is None and policy.allowed_inference_geos is not None:
        defaults = {"workspace_geo": "us", "allowed_inference_geos": list(policy.allowed_inference_geos),
                    "default_inference_geo": policy.default_inference_geo}
    merged = clean_data_residency(data, current=current, inference_geos=[c for c, i, _ in geos if i],
                                  workspace_geos=[c for c, _, w in geos if w], defaults=defaults)
    allowed = merged["allowed_inference_geos"]
    field = workspace_outside_policy(None if allowed == UNRESTRICTED else allowed, merged["default_inference_geo"],
                                     policy)
    if field is not None:
        bound = ", ".join(policy.allowed_inference_geos)
        message = (f"allowed_inference_geos must stay within the organization's data residency policy ({bound}); "
                   f"{'unrestricted' if allowed == UNRESTRICTED else ', '.join(allowed)} is not."
                   if field == "allowed_inference_geos" else
                   f"default_inference_geo {merged['default_inference_geo']!r} is outside the organization's data "
                   f"residency policy ({bound}).")
        raise DetailedValidationError({f"data_residency.{field}": [message]}, details=policy_violation(field))
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
    if problem := name_problem(name):
        raise ValidationError({"name": [problem]})
    return name


def _asked(residency, sent):
    """The validated data residency fields a caller sent (None when they sent none)."""
    if not sent:
        return None
    return {key: residency[key] for key in sent if key in residency}


def _audit_workspace_denial(actor, organization, access, target, before, name, data_residency):
    """Record a refused workspace change (a 403, SPEC §2 step 3) with the validated name and
    data residency asked for: never what the client sent before it was validated."""
    with transaction.atomic():
        audit_record(actor=actor, organization=organization, event=events.WORKSPACE_RESIDENCY_CHANGE_DENIED,
                     target=target, before=before, after={"name": name, "data_residency": data_residency},
                     outcome=Outcome.DENIED, role=access.role_name)


def workspace_create(*, actor, organization, name, data_residency=None, display_color=None, tags=None):
    """Create a workspace (Privacy: manage). workspace_geo is fixed from here on; a colour is
    chosen when none is given; tags default to none.

    At most 100 active workspaces per organization (checked under the organization lock).
    The input is validated first (400, nothing recorded); anyone without Privacy: manage then
    gets a 403 (the collection itself is visible to every member), audited with what they asked.
    """
    access = access_organization(actor=actor, id=organization.pk)
    name = _clean_workspace_name(name)
    residency = data_residency_clean(data_residency, organization=organization)
    extra = _clean_workspace_extras(display_color, tags)
    if not can_manage_workspaces(access):
        _audit_workspace_denial(actor, organization, access, ("workspace", "", name[:300]), None, name,
                                _asked(residency, data_residency))
        require_manage_workspaces(access)
    with transaction.atomic():
        lock_organization(organization)
        # again under the lock: a policy changed since the check above bounds this workspace too
        residency = data_residency_clean(data_residency, organization=organization)
        active = Workspace.objects.filter(organization=organization, archived_at__isnull=True).count()
        if active >= MAX_ACTIVE_WORKSPACES:
            raise ValidationError(
                f"This organization already has {MAX_ACTIVE_WORKSPACES} active workspaces, the most allowed; "
                "archive one before creating another."
            )
        workspace = Workspace(organization=organization, name=name, **extra)
        _apply_residency(workspace, residency)
        workspace.save()
        audit_record(actor=actor, organization=organization, event=events.WORKSPACE_CREATED, target=workspace,
                     after={"name": name, "data_residency": workspace.data_residency,
                            "display_color": workspace.display_color, "tags": workspace.tags},
                     role=access.role_name)
    return workspace


def _clean_workspace_extras(display_color, tags, current=None):
    """{display_color?, tags?} to set, validated (None: leave it); `current` (a workspace) for an
    update, where tags merge into its own. Raises one ValidationError naming every bad field."""
    out, errors = {}, {}
    if display_color is not None:
        try:
            out["display_color"] = clean_display_color(display_color)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if tags is not None:
        try:
            out["tags"] = clean_tags(tags, current=None if current is None else current.tags)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return out


def _snapshot_workspace(ws):
    """A workspace's changeable values (as its audit events and change requests compare them)."""
    return {"name": ws.name, "data_residency": ws.data_residency, "display_color": ws.display_color,
            "tags": dict(ws.tags)}


def workspace_update(*, actor, workspace, name=None, data_residency=None, display_color=None, tags=None,
                     change_request=None):
    """Rename, recolour, retag and/or change data residency (Privacy: manage; a workspace admin
    may change its data residency only).

    `data_residency` is a partial update: fields left out keep their values; the merged
    result must be valid. `tags` merge into the workspace's own, a None value deleting that
    tag. None leaves a field as it is. A member who may only view it gets a 403 and an audit
    record. When the new residency loosens (SPEC §8) and the organization asks for approval,
    nothing is applied (the name, colour and tags neither: the whole request waits) and a pending
    `ChangeRequest` is returned instead of the workspace. `change_request` is the approved
    request being applied.
    """
    denial = None
    try:
        workspace, access = access_workspace(actor=actor, id=workspace.pk, need=Level.MANAGE)
    except PermissionDenied as exc:
        denial = exc
        workspace, access = access_workspace(actor=actor, id=workspace.pk)
    organization = workspace.organization
    # the input is validated before any 403 is recorded (SPEC §2: 400 before 403)
    new_name = _clean_workspace_name(name) if name is not None else None
    residency = data_residency_clean(data_residency, organization=organization, current=workspace.data_residency) \
        if data_residency is not None else None
    extra = _clean_workspace_extras(display_color, tags, current=workspace)
    if denial is not None:
        _audit_workspace_denial(actor, organization, access, workspace,
                                {"data_residency": workspace.data_residency}, new_name,
                                _asked(residency, data_residency))
        raise denial
    if workspace.is_archived:
        raise ValidationError("This workspace is archived; archived workspaces cannot be changed.")
    others = {"name": new_name, **extra}
    changed = [f for f, value in others.items() if value is not None and value != getattr(workspace, f)]
    if changed and not access.can("privacy", Level.MANAGE):
        # delegation covers the workspace's data residency only (SPEC §2)
        _audit_workspace_denial(actor, organization, access, workspace, {f: getattr(workspace, f) for f in changed},
                                new_name, _asked(residency, data_residency))
        raise PermissionDenied(
            f"Changing the {' and '.join(f.replace('_', ' ') for f in changed)} of workspace {workspace.name} needs "
            "Privacy: Can manage; as its workspace admin you may change its data residency only."
        )
    with transaction.atomic():
        lock_organization(organization)
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        before = _snapshot_workspace(ws)
        if new_name is not None:
            ws.name = new_name
        if residency is not None:
            # again under the lock, over the row as it is now and the policy as it is now
            residency = data_residency_clean(data_residency, organization=organization, current=ws.data_residency)
            _apply_residency(ws, residency)
        if tags is not None:
            # merged again under the lock, over the tags as they are now
            extra["tags"] = clean_tags(tags, current=ws.tags)
        for field, value in extra.items():
            setattr(ws, field, value)
        after = _snapshot_workspace(ws)
        if after == before:
            return ws
        if _held(organization, change_request, before["data_residency"], after["data_residency"]):
            asked_before, asked_after = _workspace_change(before, after)
            return approvals.hold(
                actor=actor, access=access, organization=organization, target_type=ChangeTarget.WORKSPACE,
                target_id=ws.pk, target_label=before["name"], before=asked_before, after=asked_after,
                arguments={"name": new_name, "data_residency": {k: after["data_residency"][k] for k in POLICY_FIELDS},
                           "display_color": extra.get("display_color"), "tags": tags})
        ws.save()
        changed_before, changed_after = _diff(before, after)
        audit_record(actor=actor, organization=organization, event=events.WORKSPACE_UPDATED, target=ws,
                     before=changed_before, after=changed_after, role=access.role_name,
                     **approvals.attribution(change_request))
        if change_request is None and "data_residency" in changed_after:
            approvals.notify_change(actor=actor, organization=organization, what=f"workspace {ws.name}",
                                    before=changed_before, after=changed_after,
                                    path=approvals.console_path("console:workspace_detail", ws.pk))
    return ws


def _workspace_change(before, after):
    """(before, after) of a workspace change request: the whole data residency, and each other
    field (the name) that changes too."""
    keys = [k for k in after if k == "data_residency" or before.get(k) != after[k]]
    return {k: before[k] for k in keys}, {k: after[k] for k in keys}


def _diff(before, after):
    """The keys whose values differ, nested dicts key by key (a key gone from `after` reads None)."""
    b, a = {}, {}
    for key in dict.fromkeys([*after, *before]):
        if isinstance(after.get(key), dict) and isinstance(before.get(key), dict):
            sub_b, sub_a = _diff(before[key], after[key])
            if sub_a or sub_b:
                b[key], a[key] = sub_b, sub_a
        elif before.get(key) != after.get(key):
            b[key], a[key] = before.get(key), after.get(key)
    return b, a


def workspace_archive(*, actor, workspace):
    """Archive a workspace, permanently (Privacy: manage).

    Whoever cannot see the workspace gets a 404; a viewer or a delegated workspace admin
    (who manages its residency, not its life) gets a 403.
    """
    workspace, access = access_workspace(actor=actor, id=workspace.pk)
    require_manage_workspaces(access)
    organization = workspace.organization
    with transaction.atomic():
        lock_organization(organization)
        ws = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if ws.archived_at is not None:
            return ws
        ws.archived_at = timezone.now()
        ws.save(update_fields=["archived_at"])
        audit_record(actor=actor, organization=organization, event=events.WORKSPACE_ARCHIVED, target=ws,
                     before={"archived_at": None}, after={"archived_at": ws.archived_at.isoformat()},
                     role=access.role_name)
    return ws


def workspace_admin_set(*, actor, workspace, membership, admin):
    """Make a member admin of one workspace (or stop it): they may then manage its residency.

    Needs Privacy: manage; whoever cannot see the workspace gets a 404, a viewer or the
    workspace's own admin a 403 (delegation does not delegate further).
    """
    workspace, access = access_workspace(actor=actor, id=workspace.pk)
    require_manage_workspaces(access)
    organization = workspace.organization
    if membership.organization_id != organization.pk:
        raise ValidationError({"user_id": ["That user is not a member of this organization."]})
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
                     event=events.WORKSPACE_ADMIN_GRANTED if admin else events.WORKSPACE_ADMIN_REVOKED,
                     target=workspace, after={"user_id": membership.user_id, "email": membership.user.email},
                     role=access.role_name)


# --- legacy opt-outs --------------------------------------------------------------------------

US_ONLY_RESIDENCY = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}


@dataclass
class MigrationResult:
    organization: Organization
    dry_run: bool
    organization_change: dict | None = None  # {"before": ..., "after": ...}
    policy_change: dict | None = None  # {"before": ..., "after": ...}
    workspace_changes: list = dataclasses.field(default_factory=list)  # [(workspace, before, after)]
    note: str = ""

    @property
    def changed(self):
        return bool(self.organization_change or self.policy_change or self.workspace_changes)

    def describe(self):
        verb = "would " if self.dry_run else ""
        parts = []
        if self.organization_change:
            parts.append(f"{verb}lock US-only inference on (legacy_opt_out)" if self.dry_run
                         else "locked US-only inference on (legacy_opt_out)")
        if self.policy_change:
            parts.append(f"{verb}set the data residency policy to allowed [\"us\"], default \"us\"")
        if self.workspace_changes:
            names = ", ".join(ws.name for ws, _, _ in self.workspace_changes)
            count = len(self.workspace_changes)
            what = f"{count} workspace{'s' if count != 1 else ''} ({names})"
            parts.append(f"{verb}set {what} to allowed [\"us\"], default \"us\"")
        if not parts:
            parts.append("already migrated, nothing to change")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def _org_state(org):
    return {"us_only": org.us_only_inference, "lock_reason": org.lock_reason}


def legacy_optout_migrate(*, actor, organization, dry_run=False):
    """Bring one legacy opt-out organization to the new controls, once (SPEC §2 Migration).

    On the usage-based plan US-only inference is locked on (`legacy_opt_out`; an existing
    contract lock is kept); on every plan the organization policy becomes ["us"] / "us" (not
    locked: owners may include "global" again later) and every active workspace `["us"]` /
    "us". Each change is audited with `actor`. Once done, re-running changes nothing, even after
    owners widened the policy. A dry run computes the same changes and writes nothing. Operators
    only.
    """
    if not is_trusted_operator(actor):
        raise PermissionDenied("Only platform operators can run the legacy opt-out migration.")
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        result = MigrationResult(org, dry_run)
        if not org.legacy_opt_out:
            result.note = "not a legacy opt-out organization, skipped"
            return result
        policy = DataResidencyPolicy.objects.select_for_update().filter(organization=org).first()
        if policy is not None and policy.legacy_migrated_at is not None:
            return result
        before = _org_state(org)
        if org.lock_reason and org.lock_reason != LockReason.LEGACY_OPT_OUT:
            result.note = f"kept its existing {org.lock_reason} lock"
        elif org.plan == Plan.ENTERPRISE_USAGE:
            after = {"us_only": True, "lock_reason": LockReason.LEGACY_OPT_OUT}
            if after != before:
                result.organization_change = {"before": before, "after": after}
        old_policy = policy_values(policy)
        if old_policy != US_ONLY_RESIDENCY:
            result.policy_change = {"before": old_policy, "after": dict(US_ONLY_RESIDENCY)}
        workspaces = Workspace.objects.select_for_update().filter(organization=org, archived_at__isnull=True)
        for ws in workspaces.order_by("created_at", "pk"):
            old = {"allowed_inference_geos": ws.allowed_geos_value, "default_inference_geo": ws.default_inference_geo}
            if old != US_ONLY_RESIDENCY:
                changed = {k: v for k, v in US_ONLY_RESIDENCY.items() if old[k] != v}
                result.workspace_changes.append((ws, {k: old[k] for k in changed}, changed))
        if dry_run:
            return result
        if result.organization_change:
            org.us_only_inference, org.lock_reason = True, LockReason.LEGACY_OPT_OUT
            org.save(update_fields=["us_only_inference", "lock_reason"])
            audit_record(actor=actor, organization=org, event=events.INFERENCE_RESIDENCY_LEGACY_MIGRATED,
                         target=org, before=result.organization_change["before"],
                         after=result.organization_change["after"], role=role_label(actor, org))
        policy = policy or DataResidencyPolicy(organization=org)
        policy.allowed_inference_geos = list(US_ONLY_RESIDENCY["allowed_inference_geos"])
        policy.default_inference_geo = US_ONLY_RESIDENCY["default_inference_geo"]
        policy.legacy_migrated_at = timezone.now()
        policy.save()
        if result.policy_change:
            audit_record(actor=actor, organization=org, event=events.DATA_RESIDENCY_POLICY_UPDATED,
                         target=("data_residency_policy", org.pk, org.name), before=result.policy_change["before"],
                         after=result.policy_change["after"], role=role_label(actor, org))
        for ws, old, new in result.workspace_changes:
            ws.allowed_inference_geos = list(US_ONLY_RESIDENCY["allowed_inference_geos"])
            ws.default_inference_geo = US_ONLY_RESIDENCY["default_inference_geo"]
            ws.save(update_fields=["allowed_inference_geos", "default_inference_geo"])
            audit_record(actor=actor, organization=org, event=events.WORKSPACE_UPDATED, target=ws,
                         before={"data_residency": old}, after={"data_residency": new}, role=role_label(actor, org))
    organization.us_only_inference, organization.lock_reason = org.us_only_inference, org.lock_reason
    return result


# --- the organization's data residency policy (SPEC §5) ------------------------------------------


def _audit_denial(actor, organization, access, event, target, before, after, **attribution):
    """A refused attempt to change a residency setting, recorded in its own transaction (the
    caller then raises)."""
    with transaction.atomic():
        audit_record(actor=actor, organization=organization, event=event, target=target, before=before,
                     after=after, outcome=Outcome.DENIED, role=access.role_name, **attribution)


POLICY_FIELDS = ("allowed_inference_geos", "default_inference_geo")


def _policy_target(organization):
    return ("data_residency_policy", organization.pk, organization.name)


def data_residency_policy_refuse_hidden(*, actor, organization):
    """Step 1 of SPEC §2 for a change of the organization policy: Privacy: none does not see it,
    so the attempt is a 404, audited (nothing the client sent is recorded). Returns the member's
    Access. Views call it before they refuse malformed input, so a hidden setting is a 404 first."""
    access = access_organization(actor=actor, id=organization.pk)
    if not access.can("privacy"):
        _audit_denial(actor, organization, access, events.DATA_RESIDENCY_POLICY_CHANGE_DENIED,
                      _policy_target(organization), None, {"denied": "permission"})
        raise Http404("Not found.")
    return access


def data_residency_policy_set(*, actor, organization, values, apply_to_workspaces=False, change_request=None):
    """Change the organization's data residency policy (Privacy: manage; SPEC §5).

    `values` holds `allowed_inference_geos` and/or `default_inference_geo` (a partial update,
    same value rules as a workspace). Without `apply_to_workspaces`, workspaces outside the new
    policy are left as they are (still bounded at decision time; the policy lists them); with
    it, each live one is brought inside in the same transaction, one audit event each. A policy
    locked by contract is refused to everyone (platform staff lock and unlock it). Privacy:
    none gets a 404, Privacy: view a 403; both refusals are audited, like a locked policy's.

    When the new policy loosens, or bringing workspaces inside it would loosen one of them
    (SPEC §8), and the organization asks for approval, nothing is applied and a pending
    `ChangeRequest` is returned instead of the policy row. `change_request` is the approved
    request being applied.
    """
    access = data_residency_policy_refuse_hidden(actor=actor, organization=organization)
    target = _policy_target(organization)
    if not isinstance(values, dict) or set(values) - set(POLICY_FIELDS):
        raise ValidationError({name: ["Unknown field."] for name in sorted(set(values) - set(POLICY_FIELDS))}
                              if isinstance(values, dict) else "Send the policy's fields as an object.")
    if not isinstance(apply_to_workspaces, bool):
        raise ValidationError({"apply_to_workspaces": ["Must be true or false."]})
    current_row = DataResidencyPolicy.objects.filter(organization=organization).first()
    current = policy_values(current_row)
    merged = clean_inference_geos(values, current=current, inference_geos=inference_geo_codes())
    denial = reason = None
    if not access.can("privacy", Level.MANAGE):
        denial, reason = PermissionDenied(
            "Changing the data residency policy needs Privacy: Can manage; "
            f"your role ({access.role_name}) has Privacy: Can view."), "permission"
    elif current_row is not None and current_row.locked:
        denial, reason = PermissionDenied(
            "The data residency policy is locked by this organization's contract and cannot be changed here; "
            "contact your account team."), f"locked:{current_row.lock_reason}"
    if denial is not None:
        _audit_denial(actor, organization, access, events.DATA_RESIDENCY_POLICY_CHANGE_DENIED, target, current,
                      {**merged, "apply_to_workspaces": apply_to_workspaces, "denied": reason})
        raise denial
    with transaction.atomic():
        org = lock_organization(organization)
        row = DataResidencyPolicy.objects.select_for_update().filter(organization=org).first() \
            or DataResidencyPolicy(organization=org)
        before = policy_values(None if row._state.adding else row)
        changed = merged != before
        if (changed or apply_to_workspaces) and change_request is None and approvals.policy_loosens(
                org, before, merged, apply_to_workspaces) and approvals.required(org):
            after = {**merged, "apply_to_workspaces": True} if apply_to_workspaces else dict(merged)
            return approvals.hold(
                actor=actor, access=access, organization=org, target_type=ChangeTarget.DATA_RESIDENCY_POLICY,
                target_id=org.pk, target_label=org.name, before=before, after=after,
                arguments={"values": merged, "apply_to_workspaces": apply_to_workspaces})
        if changed:
            allowed = merged["allowed_inference_geos"]
            row.allowed_inference_geos = None if allowed == UNRESTRICTED else list(allowed)
            row.default_inference_geo = merged["default_inference_geo"]
            row.save()
        attribution = approvals.attribution(change_request)
        moved = _bring_workspaces_inside(actor, org, access, policy_info(row), attribution) \
            if apply_to_workspaces else []
        if changed or moved:
            keys = [k for k in POLICY_FIELDS if before[k] != merged[k]]
            audit_record(actor=actor, organization=org, event=events.DATA_RESIDENCY_POLICY_UPDATED, target=target,
                         before={k: before[k] for k in keys},
                         after={**{k: merged[k] for k in keys}, "apply_to_workspaces": apply_to_workspaces},
                         role=access.role_name, **attribution)
            if change_request is None and keys:
                approvals.notify_change(actor=actor, organization=org, what="the data residency policy",
                                        before={k: before[k] for k in keys}, after={k: merged[k] for k in keys},
                                        path=approvals.console_path("console:residency_policy"))
    return row


def _bring_workspaces_inside(actor, org, access, policy, attribution=None):
    """Every live workspace outside `policy`, brought inside it (one audit event each)."""
    attribution = attribution or {}
    moved = []
    for ws in Workspace.objects.select_for_update().filter(organization=org, archived_at__isnull=True) \
            .order_by("created_at", "pk"):
        if workspace_outside_policy(ws.allowed_inference_geos, ws.default_inference_geo, policy) is None:
            continue
        allowed, default = bring_inside_policy(ws.allowed_inference_geos, ws.default_inference_geo, policy)
        old = {"allowed_inference_geos": ws.allowed_geos_value, "default_inference_geo": ws.default_inference_geo}
        ws.allowed_inference_geos, ws.default_inference_geo = allowed, default
        ws.save(update_fields=["allowed_inference_geos", "default_inference_geo"])
        new = {"allowed_inference_geos": ws.allowed_geos_value, "default_inference_geo": ws.default_inference_geo}
        keys = [k for k in new if new[k] != old[k]]
        audit_record(actor=actor, organization=org, event=events.WORKSPACE_UPDATED, target=ws,
                     before={"data_residency": {k: old[k] for k in keys}},
                     after={"data_residency": {k: new[k] for k in keys}}, role=access.role_name, **attribution)
        moved.append(ws)
    return moved


def data_residency_policy_lock_set(*, actor, organization, locked, reason):
    """Lock the organization policy by contract, or unlock it (platform staff only, with a reason;
    audited). A locked policy refuses every other change."""
    if not is_trusted_operator(actor):
        raise PermissionDenied("Only platform staff lock or unlock a data residency policy.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why; the reason is recorded in the audit log."]})
    with transaction.atomic():
        org = lock_organization(organization)
        row = DataResidencyPolicy.objects.select_for_update().filter(organization=org).first() \
            or DataResidencyPolicy(organization=org)
        wanted = LockReason.CONTRACT if locked else None
        if row.lock_reason == wanted and not row._state.adding:
            return row
        before = row.lock_reason
        row.lock_reason = wanted
        row.save()
        audit_record(actor=actor, organization=org, event=events.DATA_RESIDENCY_POLICY_LOCK_CHANGED,
                     target=("data_residency_policy", org.pk, org.name), before={"lock_reason": before},
                     after={"lock_reason": wanted, "reason": reason}, role=role_label(actor, org))
    return row


# --- approval of loosening changes (SPEC §8) ----------------------------------------------------


def _approval_settings_target(organization):
    return ("approval_settings", organization.pk, organization.name)


def approval_settings_refuse_hidden(*, actor, organization, loosening_requires_approval):
    """Step 1 of SPEC §2 for a change of the approval setting: Privacy: none does not see it, so
    the attempt is a 404, audited with a bounded summary of the value as sent (§7). Returns the
    member's Access. Views call it before they refuse malformed input."""
    access = access_organization(actor=actor, id=organization.pk)
    if not access.can("privacy"):
        _audit_denial(actor, organization, access, events.APPROVAL_SETTINGS_CHANGE_DENIED,
                      _approval_settings_target(organization), None,
                      {"loosening_requires_approval": client_value(loosening_requires_approval),
                       "denied": "permission"})
        raise Http404("Not found.")
    return access


def approval_settings_set(*, actor, organization, loosening_requires_approval, change_request=None):
    """Turn approval of loosening changes on or off (SPEC §8). Returns the `ApprovalSettings`, or
    a pending `ChangeRequest` when turning it off (itself a loosening change: any Privacy: manage
    member asks, another approves). Only the primary owner turns it on, in person or with a key
    they created themself. Privacy: none gets a 404, Privacy: view and anyone else refused a 403;
    refusals are audited. `change_request` is the approved request being applied."""
    value = loosening_requires_approval
    access = approval_settings_refuse_hidden(actor=actor, organization=organization, loosening_requires_approval=value)
    target = _approval_settings_target(organization)
    if not isinstance(value, bool):
        raise ValidationError({"loosening_requires_approval": ["Must be true or false."]})
    denial = None
    with transaction.atomic():
        org = lock_organization(organization)
        row = ApprovalSettings.objects.select_for_update().filter(organization=org).first() \
            or ApprovalSettings(organization=org)
        before = {"loosening_requires_approval": row.loosening_requires_approval}
        after = {"loosening_requires_approval": value}
        if not access.can("privacy", Level.MANAGE):
            denial = PermissionDenied("Changing approval settings needs Privacy: Can manage; "
                                      f"your role ({access.role_name}) has Privacy: Can view.")
        elif value and not row.loosening_requires_approval and not access.is_primary_owner:
            denial = PermissionDenied(
                "Only the primary owner can turn on approval of loosening changes"
                + (", in person or with an API key they created themself." if access.through_foreign_key else "."))
        if denial is not None:
            audit_record(actor=actor, organization=org, event=events.APPROVAL_SETTINGS_CHANGE_DENIED, target=target,
                         before=before, after={**after, "denied": "permission"}, outcome=Outcome.DENIED,
                         role=access.role_name)
        elif value != row.loosening_requires_approval:
            if _held(org, change_request, before, after):
                return approvals.hold(actor=actor, access=access, organization=org,
                                      target_type=ChangeTarget.APPROVAL_SETTINGS, target_id=org.pk,
                                      target_label=org.name, before=before, after=after, arguments=after)
            row.loosening_requires_approval = value
            row.save()
            audit_record(actor=actor, organization=org, event=events.APPROVAL_SETTINGS_UPDATED, target=target,
                         before=before, after=after, role=access.role_name, **approvals.attribution(change_request))
            if change_request is None:
                approvals.notify_change(actor=actor, organization=org, what="approval of loosening changes",
                                        before=before, after=after,
                                        path=approvals.console_path("console:approval_settings"))
    if denial is not None:
        raise denial
    return row


def change_requests_expire(*, organization=None, now=None, source=Source.COMMAND):
    """Expire every pending change request older than 72 hours, in `organization` or in every
    organization: each one audited (`change_request.expired`, by the expiry, the requester
    recorded) and emailed. Runs lazily whenever change requests are read, and from `python
    manage.py expire_change_requests` (cron). Returns how many expired."""
    now = now or timezone.now()
    due = ChangeRequest.objects.filter(status=ChangeStatus.PENDING, expires_at__lte=now)
    if organization is not None:
        due = due.filter(organization_id=organization.pk)
    expired = 0
    for org_id in sorted(set(due.values_list("organization_id", flat=True))):
        with transaction.atomic():
            org = Organization.objects.select_for_update().get(pk=org_id)
            for change_request in due.filter(organization_id=org_id).select_for_update().order_by("created_at", "pk"):
                _expire(org, change_request, source)
                expired += 1
    return expired


def _expire(org, change_request, source):
    approvals.record_outcome(actor=Actor.system("Change request expiry", source=source), organization=org,
                             change_request=change_request, status=ChangeStatus.EXPIRED)


def _still_pending(org, change_request, source):
    """None when the (locked) request is pending, else why it cannot be decided (a 409); one
    past its 72 hours is expired now, and stays expired."""
    if change_request.is_pending and change_request.expires_at <= timezone.now():
        _expire(org, change_request, source)
    if change_request.is_pending:
        return None
    return (f"Change request {change_request.pk} is {change_request.get_status_display().lower()}; only a "
            "pending request can be approved, rejected or withdrawn.")


def _locked_change_request(organization, change_request):
    """The organization row, then the request's row, locked in that order (as every residency
    service locks the organization first), so two approvals queue and the second sees the first."""
    org = lock_organization(organization)
    return org, ChangeRequest.objects.select_for_update(of=("self",)).select_related("requested_by").get(
        pk=change_request.pk)


def _current_values(org, change_request):
    """The target's values now, as `before` holds them (None when the target is gone)."""
    kind = change_request.target_type
    if kind == ChangeTarget.INFERENCE_RESIDENCY:
        current = {"us_only": org.us_only_inference}
    elif kind == ChangeTarget.DATA_RESIDENCY_POLICY:
        current = policy_values(DataResidencyPolicy.objects.filter(organization=org).first())
    elif kind == ChangeTarget.APPROVAL_SETTINGS:
        current = {"loosening_requires_approval": approvals.required(org)}
    else:
        ws = Workspace.objects.filter(pk=change_request.target_id, organization=org, archived_at__isnull=True).first()
        if ws is None:
            return None
        current = _snapshot_workspace(ws)
    return {key: current.get(key) for key in change_request.before}


def _apply_change_request(actor, org, change_request):
    """Make the requested change through its own service, as if made now by `actor` (the
    approver), recorded with the requester and the request."""
    args = change_request.arguments
    kind = change_request.target_type
    if kind == ChangeTarget.INFERENCE_RESIDENCY:
        inference_residency_set(actor=actor, organization=org, us_only=args["us_only"], change_request=change_request)
    elif kind == ChangeTarget.DATA_RESIDENCY_POLICY:
        data_residency_policy_set(actor=actor, organization=org, values=args["values"],
                                  apply_to_workspaces=args["apply_to_workspaces"], change_request=change_request)
    elif kind == ChangeTarget.APPROVAL_SETTINGS:
        approval_settings_set(actor=actor, organization=org,
                              loosening_requires_approval=args["loosening_requires_approval"],
                              change_request=change_request)
    else:
        workspace = Workspace.objects.select_related("organization").get(pk=change_request.target_id)
        workspace_update(actor=actor, workspace=workspace, name=args.get("name"),
                         data_residency=args["data_residency"], display_color=args.get("display_color"),
                         tags=args.get("tags"), change_request=change_request)


def change_request_approve(*, actor, organization, change_request):
    """Approve a pending change request and apply it, in one transaction (SPEC §8).

    Privacy: manage and a person other than the requester, in person or with a key they created
    themself (403 otherwise; 404 for whoever cannot see it). The change is validated and applied
    as if made now, by the approver, with the requester recorded on it. When the target no longer
    holds the values the request was asked against, or the change is no longer valid (the
    workspace archived, the policy moved, a lock added), nothing is applied: the request ends in
    `conflict` and this raises `Conflict` (409). A request that is no longer pending (decided,
    withdrawn, or past its 72 hours) is a 409 too. Two approvals at once queue on the request's
    row: one applies it, the other gets the 409.
    """
    access = access_organization(actor=actor, id=organization.pk)
    change_request = access_change_request(access=access, id=change_request.pk)
    _require_may(actor, access, change_request, "approve", decision_refusal(access, change_request))
    error = None
    with transaction.atomic():
        org, change_request = _locked_change_request(organization, change_request)
        error = _still_pending(org, change_request, actor.source)
        if error is None and _current_values(org, change_request) != change_request.before:
            error = (f"{approvals.describe_target(change_request)[0].upper()}"
                     f"{approvals.describe_target(change_request)[1:]} changed after this request was made, so it "
                     "was not applied; ask again from the current values if the change is still wanted.")
        elif error is None:
            try:
                with transaction.atomic():
                    audit_record(actor=actor, organization=org, event=events.CHANGE_REQUEST_APPROVED,
                                 target=("change_request", change_request.pk, approvals.describe_target(change_request)),
                                 before={"status": ChangeStatus.PENDING.value},
                                 after={"status": ChangeStatus.APPLIED.value}, role=access.role_name,
                                 requested_by=change_request.requested_by, change_request_id=change_request.pk)
                    _apply_change_request(actor, org, change_request)
            except (ValidationError, PermissionDenied, Http404) as exc:
                error = (f"The change is no longer valid, so it was not applied: "
                         f"{'; '.join(_messages(exc)) or 'it is not allowed now'}")
            else:
                approvals.record_outcome(actor=actor, organization=org, change_request=change_request,
                                         status=ChangeStatus.APPLIED, role=access.role_name)
        if error is not None and change_request.is_pending:
            approvals.record_outcome(actor=actor, organization=org, change_request=change_request,
                                     status=ChangeStatus.CONFLICT, role=access.role_name, reason=error)
    if error is not None:
        raise Conflict(error)
    return change_request


def _messages(exc):
    if isinstance(exc, ValidationError):
        return [m for messages in (exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages])
                for m in messages]
    return [str(exc)] if str(exc) and str(exc) != "Not found." else []


def change_request_reject(*, actor, organization, change_request, reason=""):
    """Reject a pending change request (same rules as approving); nothing is applied. A request
    that is no longer pending is a 409 (`Conflict`)."""
    access = access_organization(actor=actor, id=organization.pk)
    change_request = access_change_request(access=access, id=change_request.pk)
    _require_may(actor, access, change_request, "reject", decision_refusal(access, change_request))
    return _close(actor, access, organization, change_request, ChangeStatus.REJECTED, reason)


def change_request_withdraw(*, actor, organization, change_request):
    """Withdraw a pending change request: its requester only (403 for anyone else who sees it).
    A request that is no longer pending is a 409 (`Conflict`)."""
    access = access_organization(actor=actor, id=organization.pk)
    change_request = access_change_request(access=access, id=change_request.pk)
    _require_may(actor, access, change_request, "withdraw", withdrawal_refusal(access, change_request))
    return _close(actor, access, organization, change_request, ChangeStatus.WITHDRAWN, "")


def _require_may(actor, access, change_request, action, refusal):
    """Raise the 403 `refusal` (from `residency.permissions`), audited first: a refused approval
    is what an auditor looks for (the requester approving their own change, a borrowed key)."""
    if refusal is None:
        return
    _audit_denial(actor, access.organization, access, events.CHANGE_REQUEST_DECISION_DENIED,
                  ("change_request", change_request.pk, approvals.describe_target(change_request)),
                  {"status": change_request.status}, {"action": action, "reason": refusal},
                  requested_by=change_request.requested_by, change_request_id=change_request.pk)
    raise PermissionDenied(refusal)


def _close(actor, access, organization, change_request, status, reason):
    with transaction.atomic():
        org, change_request = _locked_change_request(organization, change_request)
        error = _still_pending(org, change_request, actor.source)
        if error is None:
            approvals.record_outcome(actor=actor, organization=org, change_request=change_request, status=status,
                                     role=access.role_name, reason=(reason or "").strip())
    if error is not None:
        raise Conflict(error)
    return change_request


MAX_RECORDS = 5_000  # ~2 MB of JSON, under Django's DATA_UPLOAD_MAX_MEMORY_SIZE
MAX_TOKENS = 10**12  # per category per row; far above any real request
MAX_ERRORS_LISTED = 20
INSERT_BATCH = 1000  # SQLite: rows per multi-row INSERT (13 parameters each)
RECORD_FIELDS = {
    "id", "surface", "workspace_id", "model", "inference_geo", "service_tier", "occurred_at",
    "uncached_input_tokens", "cache_creation", "cache_read_input_tokens", "output_tokens",
}
SURFACES = tuple(Surface.values)
CACHE_FIELDS = {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}


class TooManyRecords(Exception):
    """More rows than one request may carry (413)."""


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int

    def as_json(self):
        return {"accepted": self.accepted, "duplicates": self.duplicates}


@dataclass
class Reference:
    """What validation checks rows against, loaded once per request (three queries)."""

    workspaces: set
    models: dict  # id -> supports_inference_geo
    geos: list
    geo_set: frozenset = frozenset()

    def __post_init__(self):
        self.geo_set = frozenset(self.geos)

    @classmethod
    def load(cls, organization):
        return cls(
            workspaces=set(Workspace.objects.filter(organization_id=organization.pk).values_list("id", flat=True)),
            models=dict(CatalogModel.objects.values_list("id", "supports_inference_geo")),
            geos=list(Geo.objects.filter(inference=True).values_list("code", flat=True)),
        )


def _count(value, path, errors):
    if type(value) is not int:  # bool is an int subclass; floats and strings are refused too
        errors[path] = [f"must be a whole number of tokens, got {value!r}."]
        return 0
    if value < 0:
        errors[path] = [f"must not be negative, got {value}."]
    elif value > MAX_TOKENS:
        errors[path] = [f"{value} is more than {MAX_TOKENS} tokens for one row; check the unit."]
    return value


def _occurred_at(value, path, errors):
    if not isinstance(value, str):
        errors[path] = [f"must be an RFC 3339 timestamp string, got {value!r}."]
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or "T" not in value.upper():
        errors[path] = [f"{value!r} is not an RFC 3339 timestamp; use e.g. 2026-03-01T12:00:00Z."]
        return None
    if parsed.tzinfo is None:
        errors[path] = [f"{value!r} has no time zone offset; add Z or +00:00."]
        return None
    try:
        check_datetime_range(parsed, path)
    except MalformedInput as exc:
        errors[path] = [str(exc).removeprefix(f"{path}: ")]
        return None
    return parsed.astimezone(UTC)


REQUIRED_FIELDS = ("id", "model", "inference_geo", "service_tier", "occurred_at")
COUNT_FIELDS = ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens")
_EMPTY = {}


def _valid_count(value):
    return type(value) is int and 0 <= value <= MAX_TOKENS


def clean_record(record, index, ref, errors):
    """One row -> a tuple ready to insert, or None; problems go into `errors` by path.

    The common, valid row takes a short path of cheap checks (ingestion validates millions
    of rows); any doubt falls through to `_record_errors`, which names every problem.
    """
    if type(record) is dict and record.keys() <= RECORD_FIELDS:
        get = record.get
        ext_id, ws, model, geo, tier = get("id"), get("workspace_id"), get("model"), get("inference_geo"), \
            get("service_tier")
        surface = get("surface", Surface.API)
        supports_geo = ref.models.get(model) if type(model) is str else None
        cache = get("cache_creation", _EMPTY)
        occurred = _fast_datetime(get("occurred_at"))
        uncached, read, out = get("uncached_input_tokens", 0), get("cache_read_input_tokens", 0), \
            get("output_tokens", 0)
        # API rows name a workspace of the organization; Claude apps rows name none
        if (type(ext_id) is str and 0 < len(ext_id) <= 100
                and ((type(ws) is str and ws in ref.workspaces) if surface == Surface.API
                     else (surface == Surface.APPS and "workspace_id" not in record))
                and supports_geo is not None and tier in SERVICE_TIERS and occurred is not None
                and ((type(geo) is str and geo in ref.geo_set) if supports_geo else geo == NOT_AVAILABLE)
                and type(cache) is dict and cache.keys() <= CACHE_FIELDS
                and _valid_count(uncached) and _valid_count(read) and _valid_count(out)):
            w5, w1 = cache.get("ephemeral_5m_input_tokens", 0), cache.get("ephemeral_1h_input_tokens", 0)
            if _valid_count(w5) and _valid_count(w1):
                return (ext_id, ws, model, geo, tier, occurred, uncached, w5, w1, read, out, surface)
    _record_errors(record, index, ref, errors)
    return None


def _fast_datetime(value):
    """The common, unremarkable timestamp in UTC, else None (then `_occurred_at` says why). Years
    1 and 9998 take the slow path: there the offset may carry the instant off the calendar."""
    if type(value) is not str or "T" not in value and "t" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or not MIN_YEAR < parsed.year < MAX_YEAR:
        return None
    return parsed.astimezone(UTC)


def _record_errors(record, index, ref, errors):
    p = f"records[{index}]"
    if not isinstance(record, dict):
        errors[p] = ["must be an object."]
        return
    for field in sorted(set(record) - RECORD_FIELDS):
        errors[f"{p}.{field}"] = [f"unknown field; fields are {', '.join(sorted(RECORD_FIELDS))}."]
    for field in REQUIRED_FIELDS:
        if field not in record:
            errors[f"{p}.{field}"] = ["is required."]
    ext_id = record.get("id")
    if "id" in record and (not isinstance(ext_id, str) or not ext_id or len(ext_id) > 100):
        errors[f"{p}.id"] = ["must be a non-empty string of at most 100 characters."]
    surface = record.get("surface", Surface.API)
    if surface not in SURFACES:
        errors[f"{p}.surface"] = [f"{surface!r} is not a surface; use one of {', '.join(SURFACES)}."]
    ws = record.get("workspace_id")
    if surface == Surface.APPS and "workspace_id" in record:
        errors[f"{p}.workspace_id"] = ["Claude apps rows have no workspace; leave workspace_id out."]
    elif surface == Surface.API and "workspace_id" not in record:
        errors[f"{p}.workspace_id"] = ["is required. (API rows, surface \"api\" the default, name their workspace; "
                                       "Claude apps rows, surface \"apps\", have none.)"]
    elif "workspace_id" in record and (not isinstance(ws, str) or ws not in ref.workspaces):
        errors[f"{p}.workspace_id"] = [f"no workspace {ws!r} in this organization."]
    model = record.get("model")
    supports_geo = ref.models.get(model) if isinstance(model, str) else None
    if "model" in record and supports_geo is None:
        errors[f"{p}.model"] = [f"unknown model {model!r}; see the model catalog."]
    geo = record.get("inference_geo")
    if "inference_geo" in record:
        if geo not in ref.geos and geo != NOT_AVAILABLE:
            errors[f"{p}.inference_geo"] = [
                f"{geo!r} is not a geo; use one of {', '.join(repr(g) for g in [*ref.geos, NOT_AVAILABLE])}."
            ]
        elif supports_geo is False and geo != NOT_AVAILABLE:
            errors[f"{p}.inference_geo"] = [
                f"{model} does not report an inference geo; its rows carry 'not_available', not {geo!r}."
            ]
        elif supports_geo is True and geo == NOT_AVAILABLE:
            errors[f"{p}.inference_geo"] = [
                f"{model} reports where it ran; use one of {', '.join(repr(g) for g in ref.geos)}."
            ]
    tier = record.get("service_tier")
    if "service_tier" in record and tier not in SERVICE_TIERS:
        errors[f"{p}.service_tier"] = [f"{tier!r} is not a service tier; use one of {', '.join(SERVICE_TIERS)}."]
    if "occurred_at" in record:
        _occurred_at(record.get("occurred_at"), f"{p}.occurred_at", errors)
    for field in COUNT_FIELDS:
        _count(record.get(field, 0), f"{p}.{field}", errors)
    cache = record.get("cache_creation", {})
    if not isinstance(cache, dict):
        errors[f"{p}.cache_creation"] = ["must be an object with ephemeral_5m_input_tokens and ephemeral_1h_input_tokens."]
    else:
        for field in sorted(set(cache) - CACHE_FIELDS):
            errors[f"{p}.cache_creation.{field}"] = [f"unknown field; fields are {', '.join(sorted(CACHE_FIELDS))}."]
        for field in sorted(CACHE_FIELDS):
            _count(cache.get(field, 0), f"{p}.cache_creation.{field}", errors)


def clean_usage_records(records, ref):
    """Validate a whole request; the first problems (by row and field) in one ValidationError."""
    if not isinstance(records, list) or not records:
        raise ValidationError({"records": ["must be a non-empty list of usage rows."]})
    if len(records) > MAX_RECORDS:
        raise TooManyRecords(
            f"{len(records)} records in one request; send at most {MAX_RECORDS} per request."
        )
    errors, rows = {}, []
    for index, record in enumerate(records):
        row = clean_record(record, index, ref, errors)
        if row is not None:
            rows.append(row)
    if errors:
        shown = dict(list(errors.items())[:MAX_ERRORS_LISTED])
        if len(errors) > MAX_ERRORS_LISTED:
            shown["records"] = [f"... and {len(errors) - MAX_ERRORS_LISTED} more problems; nothing was stored."]
        else:
            shown["records"] = ["nothing was stored; fix these rows and send the request again."]
        raise ValidationError(shown)
    return rows


def usage_ingest(*, actor, organization, records):
    """Store usage rows for `organization` (Billing: manage); all or nothing, idempotent by id.

    Returns IngestResult(accepted, duplicates): a row whose id was stored before (or appears
    twice in the request) is a duplicate and changes nothing. Not audited: usage rows are
    data, not changes.
    """
    access = access_organization(actor=actor, id=organization.pk)
    require_usage_ingest(access)
    rows = clean_usage_records(records, Reference.load(organization))
    return store_usage_rows(organization, rows)


def store_usage_rows(organization, rows):
    """Insert validated rows and add the new ones to the hourly and daily rollups.

    Inserts use ON CONFLICT DO NOTHING RETURNING, so only rows that really went in are rolled
    up, even when two requests race with the same ids.
    """
    unique, seen = [], set()
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            unique.append(row)
    nested = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            accepted = _store_postgres(organization.pk, unique, nested)
        else:
            inserted = _insert_records(organization.pk, unique)
            _add_to_rollups(organization.pk, inserted)
            accepted = len(inserted)
    return IngestResult(accepted=accepted, duplicates=len(rows) - accepted)


def _datetime_adapter():
    """UTC datetimes -> what the backend stores. Same result as Django's
    `adapt_datetimefield_value` (SQLite keeps naive UTC text), without its per-value checks;
    validated rows always carry UTC datetimes."""
    if connection.vendor == "sqlite":
        return lambda dt: str(dt.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value


RECORD_COLUMNS = ("organization_id", "external_id", "workspace_id", "model_id", "inference_geo", "service_tier",
                  "occurred_at", "uncached_input_tokens", "cache_creation_5m_tokens", "cache_creation_1h_tokens",
                  "cache_read_input_tokens", "output_tokens", "surface", "received_at")
# a cleaned row's columns (RECORD_COLUMNS[1:-1]), as PostgreSQL types for the binary COPY
ROW_TYPES = ("varchar", "varchar", "varchar", "varchar", "varchar", "timestamptz",
             "int8", "int8", "int8", "int8", "int8", "varchar")
# PostgreSQL: each request's rows are copied into this session's temporary table, then moved
# in one INSERT ... SELECT. The server empties it at the end of every transaction; inside a
# caller's transaction (which may ingest twice) it is emptied before use as well.
STAGING_TABLE = "usage_ingest_staging_v2"
STAGING_SQL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ("
    + ", ".join(f"{name} {type_}" for name, type_ in zip(RECORD_COLUMNS[1:-1], ROW_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)


ROLLUP_SUMS = ("uncached_input_tokens", "cache_creation_5m_tokens", "cache_creation_1h_tokens",
               "cache_read_input_tokens", "output_tokens")
ROLLUP_KEY = ("organization_id", "width", "bucket_start", "surface", "workspace_id", "model_id", "inference_geo",
              "service_tier")


def _rollup_conflict(table):
    return (f"ON CONFLICT ({', '.join(ROLLUP_KEY)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ("records", *ROLLUP_SUMS)))


def _store_postgres(org_id, rows, nested):
    """PostgreSQL: insert the rows whose id is new and roll them up; returns how many went in.

    The rows go in with a binary COPY into a temporary table (the driver writes them in C, the
    server parses no SQL per row); then one statement inserts them with ON CONFLICT DO
    NOTHING and adds exactly the rows that went in (its RETURNING) to the hourly and daily
    rollups, summed by the server, upserted in key order (concurrent ingestions lock
    rollup rows in the same order and cannot deadlock).
    """
    records, rollups = UsageRecord._meta.db_table, UsageRollup._meta.db_table
    dims = "surface, workspace_id, model_id, inference_geo, service_tier"
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in ROLLUP_SUMS)
    resum = ", ".join(f"sum({c})::bigint" for c in ROLLUP_SUMS)
    received = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(STAGING_SQL + (f"; TRUNCATE {STAGING_TABLE}" if nested else ""))
        with cursor.copy(f"COPY {STAGING_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(ROW_TYPES)
            write = copy.write_row
            for row in rows:
                write(row)
        cursor.execute(
            f"WITH new AS ("
            f"  INSERT INTO {records} ({','.join(RECORD_COLUMNS)}) SELECT %s, s.*, %s FROM {STAGING_TABLE} s"
            f"  ON CONFLICT (organization_id, external_id) DO NOTHING"
            # a Claude apps row has no workspace: its rollup's workspace_id is ""
            f"  RETURNING occurred_at, surface, coalesce(workspace_id, '') AS workspace_id, model_id, inference_geo,"
            f"  service_tier, {', '.join(ROLLUP_SUMS)}"
            f"), hourly AS ("
            f"  SELECT date_trunc('hour', occurred_at, 'UTC') AS bucket_start, {dims}, count(*) AS records, {sums}"
            f"  FROM new GROUP BY 1, {dims}"
            f"), buckets AS ("
            f"  SELECT '1h' AS width, bucket_start, {dims}, records, {', '.join(ROLLUP_SUMS)} FROM hourly"
            f"  UNION ALL"
            f"  SELECT '1d', date_trunc('day', bucket_start, 'UTC'), {dims}, sum(records)::bigint, {resum}"
            f"  FROM hourly GROUP BY 2, {dims}"
            f"), rolled AS ("
            f"  INSERT INTO {rollups} ({', '.join(ROLLUP_KEY)}, records, {', '.join(ROLLUP_SUMS)})"
            f"  SELECT %s, b.* FROM buckets b ORDER BY width, bucket_start, {dims}"
            f"  {_rollup_conflict(rollups)}"
            f") SELECT count(*) FROM new",
            [org_id, received, org_id],
        )
        return cursor.fetchone()[0]


def _insert_records(org_id, rows):
    """SQLite: insert rows whose id is new for this organization with multi-row VALUES and
    ON CONFLICT DO NOTHING RETURNING; returns the rows that really went in."""
    table = UsageRecord._meta.db_table
    adapt = _datetime_adapter()
    received = adapt(timezone.now().astimezone(UTC))
    conflict = "ON CONFLICT (organization_id, external_id) DO NOTHING RETURNING external_id"
    columns = ",".join(RECORD_COLUMNS)
    placeholder = "(" + ",".join(["%s"] * len(RECORD_COLUMNS)) + ")"
    inserted = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start:start + INSERT_BATCH]
            params = []
            for r in batch:
                params.extend((org_id, r[0], r[1], r[2], r[3], r[4], adapt(r[5]), r[6], r[7], r[8], r[9], r[10],
                               r[11], received))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {','.join([placeholder] * len(batch))} {conflict}",
                params,
            )
            inserted.extend(_returned(cursor, batch))
    return inserted


def _returned(cursor, rows):
    """The rows whose external_id the INSERT ... RETURNING gave back."""
    new_ids = {ext_id for (ext_id,) in cursor.fetchall()}
    return rows if len(new_ids) == len(rows) else [r for r in rows if r[0] in new_ids]


def _add_to_rollups(org_id, rows):
    """SQLite: add inserted rows to the hourly and daily rollups, summed here."""
    hourly = {}
    for _id, ws, model, geo, tier, occurred, a, b, c, d, e, surface in rows:
        # a Claude apps row has no workspace: its rollup's workspace_id is ""
        key = (occurred.replace(minute=0, second=0, microsecond=0), surface, ws or "", model, geo, tier)
        acc = hourly.get(key)
        if acc is None:
            hourly[key] = [1, a, b, c, d, e]
        else:
            acc[0] += 1
            acc[1] += a
            acc[2] += b
            acc[3] += c
            acc[4] += d
            acc[5] += e
    sums = {}
    for (hour, *dims), acc in hourly.items():
        sums[("1h", hour, *dims)] = acc
        day_key = ("1d", hour.replace(hour=0), *dims)
        day = sums.get(day_key)
        if day is None:
            sums[day_key] = list(acc)
        else:
            for i in range(6):
                day[i] += acc[i]
    if not sums:
        return
    table = UsageRollup._meta.db_table
    cols = (*ROLLUP_KEY, "records", *ROLLUP_SUMS)
    placeholder = "(" + ",".join(["%s"] * len(cols)) + ")"
    adapt = _datetime_adapter()
    # a fixed order keeps concurrent ingestions from deadlocking on the same rollup rows
    keys = sorted(sums)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), INSERT_BATCH):
            params = []
            for key in keys[start:start + INSERT_BATCH]:
                width, bucket, surface, ws, model, geo, tier = key
                params.extend((org_id, width, adapt(bucket), surface, ws, model, geo, tier, *sums[key]))
            cursor.execute(
                f"INSERT INTO {table} ({','.join(cols)}) VALUES {','.join([placeholder] * (len(params) // len(cols)))} "
                f"{_rollup_conflict(table)}",
                params,
            )


# --- the cost of a change before it is made (SPEC §5) -------------------------------------------

IMPACT_CHANGES = ("us_only", "data_residency_policy", "workspace")


def residency_impact_estimate(*, actor, organization, change, days=30, now=None):
    """What the last `days` days of usage cost, and what they would have cost had `change` been in
    force: `{"us_only": bool}`, `{"data_residency_policy": {"allowed_inference_geos", ...}}` or
    `{"workspace": {"id", "data_residency"}}`. Validated like the change itself (a change the
    service would refuse as invalid is a 400 here too); needs Billing: view and Privacy: view.
    Changes nothing."""
    access = access_organization(actor=actor, id=organization.pk)
    require_impact_view(access)
    if not isinstance(change, dict) or len(change) != 1 or next(iter(change)) not in IMPACT_CHANGES:
        raise ValidationError({"change": [f"Send exactly one of {', '.join(IMPACT_CHANGES)}."]})
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_IMPACT_DAYS:
        raise ValidationError({"days": [f"Must be a whole number of days from 1 to {MAX_IMPACT_DAYS}."]})
    (kind, value), = change.items()
    policy_row = DataResidencyPolicy.objects.filter(organization=organization).first()
    policy = policy_info(policy_row)
    if kind == "us_only":
        require_inference_residency_exists(organization)
        if not isinstance(value, bool):
            raise ValidationError({"change.us_only": ["Must be true or false."]})
        project = project_us_only(value)
    elif kind == "data_residency_policy":
        if not isinstance(value, dict) or set(value) - set(POLICY_FIELDS):
            raise ValidationError({"change.data_residency_policy": [
                f"Must be an object with {' and/or '.join(POLICY_FIELDS)}."]})
        merged = clean_inference_geos(value, current=policy_values(policy_row), inference_geos=inference_geo_codes(),
                                      prefix="change.data_residency_policy.")
        new_policy = policy_info_from(merged)
        defaults = dict(Workspace.objects.filter(organization=organization, archived_at__isnull=True)
                        .values_list("id", "default_inference_geo"))
        project = project_policy(new_policy, defaults)
    else:
        if not isinstance(value, dict) or set(value) - {"id", "data_residency"} or not isinstance(value.get("id"), str):
            raise ValidationError({"change.workspace": ["Must be an object with id and data_residency."]})
        workspace, _ = access_workspace(actor=actor, id=value["id"], organization_id=organization.pk)
        merged = data_residency_clean(value.get("data_residency") or {}, organization=organization,
                                      current=workspace.data_residency)
        allowed = merged["allowed_inference_geos"]
        project = project_workspace(workspace.pk, None if allowed == UNRESTRICTED else tuple(allowed),
                                    merged["default_inference_geo"], policy)
    return residency_impact(organization, projected_geo=project, days=days, now=now)
