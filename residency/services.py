"""Writes owned by the residency app (SPEC §2 "Migration of legacy opt-outs")."""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction

from orgs.models import LOCK_LEGACY_OPT_OUT, Organization, Workspace

from .audit import audit_record

US_ONLY_RESIDENCY = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}


@dataclass
class MigrationResult:
    organization: Organization
    dry_run: bool
    organization_change: dict | None = None  # {"before": ..., "after": ...}
    workspace_changes: list = field(default_factory=list)  # [(workspace, before, after)]
    note: str = ""

    @property
    def changed(self):
        return self.organization_change is not None or bool(self.workspace_changes)

    def describe(self):
        verb = "would " if self.dry_run else ""
        parts = []
        if self.organization_change:
            parts.append(f"{verb}lock US-only inference on (legacy_opt_out)" if self.dry_run
                         else "locked US-only inference on (legacy_opt_out)")
        if self.workspace_changes:
            names = ", ".join(ws.name for ws, _, _ in self.workspace_changes)
            count = len(self.workspace_changes)
            what = f"{count} workspace{'s' if count != 1 else ''} ({names})"
            parts.append(f"{verb}set {what} to allowed [\"us\"], default \"us\"" if self.dry_run
                         else f"set {what} to allowed [\"us\"], default \"us\"")
        if not parts:
            parts.append("already migrated, nothing to change")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def _org_state(org):
    return {"us_only": org.us_only_inference, "lock_reason": org.lock_reason}


def legacy_optout_migrate(*, actor, organization, dry_run=False):
    """Bring one legacy opt-out organization to the new controls (idempotent).

    US-only inference is locked on with `lock_reason: legacy_opt_out` and every active workspace
    gets `allowed_inference_geos: ["us"]`, `default_inference_geo: "us"`. Each change is audited
    with `actor` (the migration). An existing contract lock is kept (a lock never changes).
    A dry run computes the same changes and writes nothing. Operators only.
    """
    if actor.user is not None and not (actor.source == "admin" and actor.user.is_superuser):
        raise PermissionDenied("Only platform operators can run the legacy opt-out migration.")
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        result = MigrationResult(org, dry_run)
        if not org.legacy_opt_out:
            result.note = "not a legacy opt-out organization, skipped"
            return result
        before = _org_state(org)
        if org.lock_reason and org.lock_reason != LOCK_LEGACY_OPT_OUT:
            result.note = f"kept its existing {org.lock_reason} lock"
        else:
            after = {"us_only": True, "lock_reason": LOCK_LEGACY_OPT_OUT}
            if after != before:
                result.organization_change = {"before": before, "after": after}
        workspaces = Workspace.objects.select_for_update().filter(organization=org, archived_at__isnull=True)
        for ws in workspaces.order_by("created_at", "pk"):
            old = {"allowed_inference_geos": ws.allowed_geos_value, "default_inference_geo": ws.default_inference_geo}
            if old != US_ONLY_RESIDENCY:
                changed = {k: v for k, v in US_ONLY_RESIDENCY.items() if old[k] != v}
                result.workspace_changes.append((ws, {k: old[k] for k in changed}, changed))
        if dry_run:
            return result
        if result.organization_change:
            org.us_only_inference, org.lock_reason = True, LOCK_LEGACY_OPT_OUT
            org.save(update_fields=["us_only_inference", "lock_reason"])
            audit_record(actor=actor, organization=org, action="inference_residency.legacy_migrated", target=org,
                         before=result.organization_change["before"], after=result.organization_change["after"])
        for ws, old, new in result.workspace_changes:
            ws.allowed_inference_geos = list(US_ONLY_RESIDENCY["allowed_inference_geos"])
            ws.default_inference_geo = US_ONLY_RESIDENCY["default_inference_geo"]
            ws.save(update_fields=["allowed_inference_geos", "default_inference_geo"])
            audit_record(actor=actor, organization=org, action="workspace.updated", target=ws,
                         before={"data_residency": old}, after={"data_residency": new})
    organization.us_only_inference, organization.lock_reason = org.us_only_inference, org.lock_reason
    return result
