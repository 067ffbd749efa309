"""Reads about residency, scoped to one organization: workspaces a member may see, the
organization policy and what lies outside it, the residency history, the catalog and geos.
(The decision API's reads are in `residency.decisions`.)"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from audit import events
from audit.models import AuditEvent
from orgs.models import Level, LockReason, Membership, Plan, Workspace, WorkspaceUserObjectPermission

from .models import ApprovalSettings, CatalogModel, ChangeRequest, ChangeStatus, DataResidencyPolicy, Geo, UsageRollup
from .permissions import WORKSPACE_ADMIN_PERM, can_see_approvals
from .policy import (
    OPEN_POLICY,
    UNRESTRICTED,
    ModelInfo,
    PolicyInfo,
    Prices,
    bring_inside_policy,
    routes_outside,
    workspace_outside_policy,
)


def workspaces_visible_to(access, *, include_archived=False, ids=None):
    """Workspaces this member may see: all of them with Privacy: view, else the ones they
    administer (guardian object permission), filtered in SQL, never row by row; only those of
    `ids` if given."""
    qs = Workspace.objects.filter(organization_id=access.organization.pk)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if ids:
        qs = qs.filter(pk__in=ids)
    if access.can("privacy"):
        return qs
    qs = get_objects_for_user(
        access.user, f"orgs.{WORKSPACE_ADMIN_PERM}", qs, accept_global_perms=False, with_superuser=False
    )
    creator_id = access.key_creator_id
    if creator_id is not None and access.creator_level("privacy") == Level.NONE:
        # a key someone else minted sees no workspace its creator cannot see (SPEC §3)
        qs = qs.filter(pk__in=WorkspaceUserObjectPermission.objects.filter(
            user_id=creator_id or None, permission__codename=WORKSPACE_ADMIN_PERM).values("content_object_id"))
    return qs


def policy_of(organization):
    """The organization's DataResidencyPolicy row, or None (the default: unrestricted / global)."""
    return DataResidencyPolicy.objects.filter(organization_id=organization.pk).first()


def policy_info(row):
    """A policy row (or None) as the pure rules see it."""
    if row is None:
        return OPEN_POLICY
    allowed = row.allowed_inference_geos
    return PolicyInfo(None if allowed is None else tuple(allowed), row.default_inference_geo)


def policy_values(row):
    """A policy row's {allowed_inference_geos, default_inference_geo} ("unrestricted" or a list)."""
    if row is None:
        return {"allowed_inference_geos": UNRESTRICTED, "default_inference_geo": OPEN_POLICY.default_inference_geo}
    return {"allowed_inference_geos": row.allowed_geos_value, "default_inference_geo": row.default_inference_geo}


def nonconforming_workspaces(organization, policy):
    """Live workspaces outside the policy (`policy.workspace_outside_policy`), oldest first: they
    can still route where the policy does not reach until brought inside (decisions bound them)."""
    if policy.allowed_inference_geos is None:
        return []
    return [ws for ws in Workspace.objects.filter(organization_id=organization.pk, archived_at__isnull=True)
            .order_by("created_at", "pk")
            if workspace_outside_policy(ws.allowed_inference_geos, ws.default_inference_geo, policy)]


@dataclass(frozen=True)
class PolicyState:
    """The organization policy as the REST resource and the console show it (SPEC §5)."""

    row: DataResidencyPolicy | None  # None: the default, unrestricted / global
    nonconforming: list  # live workspaces outside it, oldest first

    @property
    def info(self):
        return policy_info(self.row)

    @property
    def allowed_inference_geos(self):
        return policy_values(self.row)["allowed_inference_geos"]

    @property
    def default_inference_geo(self):
        return policy_values(self.row)["default_inference_geo"]

    @property
    def locked(self):
        return self.row is not None and self.row.locked

    @property
    def lock_reason(self):
        return self.row.lock_reason if self.row is not None else None

    @property
    def nonconforming_workspace_ids(self):
        return [ws.pk for ws in self.nonconforming]


def policy_state(organization):
    """The policy and the live workspaces outside it (two queries, one when unrestricted)."""
    row = policy_of(organization)
    return PolicyState(row, nonconforming_workspaces(organization, policy_info(row)))


def policy_preview(organization, policy):
    """What a new `policy` (PolicyInfo) would leave outside: [(workspace, allowed, default)] for
    each live workspace outside it, with where `apply_to_workspaces` would bring it (allowed
    None is unrestricted). One query."""
    return [(ws, *bring_inside_policy(ws.allowed_inference_geos, ws.default_inference_geo, policy))
            for ws in nonconforming_workspaces(organization, policy)]


def workspaces_routing_outside(organization, policy, geo="us"):
    """(live workspaces whose API requests can still run outside `geo` under `policy`, how many
    live workspaces there are): `policy.routes_outside`. Two queries."""
    inference_geos = list(Geo.objects.filter(inference=True).values_list("code", flat=True))
    live = list(Workspace.objects.filter(organization_id=organization.pk, archived_at__isnull=True)
                .order_by("created_at", "pk"))
    return [ws for ws in live if routes_outside(ws.allowed_inference_geos, ws.default_inference_geo, policy,
                                                inference_geos, geo)], len(live)


def legacy_migration_pending(organization, policy_row):
    """A flagged legacy opt-out (SPEC §2 Migration) that `migrate_legacy_optouts` has not brought to
    the new controls yet: data flagged before flagging applied the migrated state at once."""
    return organization.legacy_opt_out and (policy_row is None or policy_row.legacy_migrated_at is None)


POLICY_HISTORY_ACTIONS = (
    events.DATA_RESIDENCY_POLICY_UPDATED.name,
    events.DATA_RESIDENCY_POLICY_CHANGE_DENIED.name,
    events.DATA_RESIDENCY_POLICY_LOCK_CHANGED.name,
)


def residency_history(organization, *, actions=events.RESIDENCY_ACTIONS, limit=10):
    """The latest residency changes and denied attempts (`actions`), newest first, each with its
    sentence (`audit.events.describe`) as `event.sentence`. One query."""
    names = events.Names(values={"plan": dict(Plan.choices), "lock_reason": dict(LockReason.choices)})
    rows = list(AuditEvent.objects.filter(organization_id=organization.pk, action__in=actions)
                .order_by("-seq")[:limit])
    for event in rows:
        event.sentence = events.describe(event, names)
    return rows


def workspace_admins(workspace):
    """Members made admin of this workspace, by email (two queries)."""
    user_ids = WorkspaceUserObjectPermission.objects.filter(
        content_object=workspace, permission__codename=WORKSPACE_ADMIN_PERM
    ).values_list("user_id", flat=True)
    return list(
        Membership.objects.filter(organization_id=workspace.organization_id, user_id__in=user_ids)
        .select_related("user", "role").order_by("user__email")
    )


INFERENCE_RESIDENCY_HISTORY_ACTIONS = (
    events.INFERENCE_RESIDENCY_UPDATED.name,
    events.INFERENCE_RESIDENCY_CHANGE_DENIED.name,
    events.INFERENCE_RESIDENCY_LEGACY_MIGRATED.name,
)


def inference_residency_history(organization, *, limit=10):
    """The latest changes (and denied attempts) to the US-only setting, newest first.

    Plan or lock changes by platform staff that moved the setting count too.
    """
    return list(
        AuditEvent.objects.filter(organization_id=organization.pk)
        .filter(
            Q(action__in=INFERENCE_RESIDENCY_HISTORY_ACTIONS)
            | Q(action=events.ORGANIZATION_UPDATED.name, after__has_key="us_only")
        )
        .order_by("-seq")[:limit]
    )


def workspaces_of(organization):
    """Every workspace of the organization by name, archived ones too (filter pickers)."""
    return list(Workspace.objects.filter(organization_id=organization.pk).order_by("name"))


def catalog_models():
    return list(CatalogModel.objects.order_by("id"))


def geos():
    """(inference geos, workspace geos), in display order (one query)."""
    rows = list(Geo.objects.all())
    return [g for g in rows if g.inference], [g for g in rows if g.workspace]


def first_usage_day(organization, days):
    """The first UTC day with usage among the last `days` days (today included), or None."""
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    first = (UsageRollup.objects.filter(organization_id=organization.pk, width="1d", bucket_start__gte=since)
             .aggregate(first=Min("bucket_start"))["first"])
    return first.date() if first else None


def geo_multiplier(code):
    return Geo.objects.filter(code=code).values_list("price_multiplier", flat=True).first()


def delegation_candidates(workspace, admins):
    """Members who could be made admin of this workspace: not already its admin, and not
    already managing every workspace's residency through their role."""
    admin_ids = {m.pk for m in admins}
    return [m for m in Membership.objects.filter(organization=workspace.organization_id)
            .exclude(role__privacy=Level.MANAGE).select_related("user", "role").order_by("user__email")
            if m.pk not in admin_ids]


def models_by_rate():
    """Catalog models that take the residency multiplier in the US, and those that stay at the
    standard rate (data, not code): two lists of display names."""
    uplift, standard = [], []
    for model in CatalogModel.objects.order_by("id").only("id", "display_name", "supports_inference_geo"):
        (uplift if model.supports_inference_geo else standard).append(model.display_name or model.id)
    return uplift, standard


def catalog_prices(model_id):
    """(ModelInfo, Prices) for a catalog model, read fresh (staff edit the catalog in the admin)."""
    row = CatalogModel.objects.filter(pk=model_id).first()
    if row is None:
        return None, None
    prices = Prices(row.input_price, row.cache_write_5m_price, row.cache_write_1h_price, row.cache_read_price,
                    row.output_price)
    return ModelInfo(row.pk, row.supports_inference_geo), prices


# --- approval of loosening changes (SPEC §8) ---------------------------------------------------


def approval_settings(organization):
    """The organization's ApprovalSettings (an unsaved one, off, when it never set them)."""
    return ApprovalSettings.objects.filter(organization_id=organization.pk).first() \
        or ApprovalSettings(organization_id=organization.pk)


def change_requests_visible_to(access, *, status=None):
    """The change requests this member may see: all of the organization's with Privacy: view,
    their own otherwise. Expire due ones first (`services.change_requests_expire`)."""
    qs = ChangeRequest.objects.filter(organization_id=access.organization.pk)
    if not can_see_approvals(access):
        qs = qs.filter(requested_by_id=access.user.pk) if access.membership is not None else qs.none()
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("requested_by", "decided_by")


def pending_change_requests(organization, *, now=None):
    """Requests still waiting for approval (not past their 72 hours), the next to expire first:
    what the banners on the Data residency and Overview pages announce (one query)."""
    return list(ChangeRequest.objects.filter(organization_id=organization.pk, status=ChangeStatus.PENDING,
                                             expires_at__gt=now or timezone.now()).order_by("expires_at", "pk"))
