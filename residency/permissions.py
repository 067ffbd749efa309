"""Who may read the change history and the usage/cost data (SPEC §2 Roles, Audit).

- Audit log: `audit_log: view` (owners hold it) sees every event of the organization;
  `privacy: view` alone sees the residency history (`RESIDENCY_ACTIONS`); anyone else gets
  404, as if the log did not exist. Nobody can change anything there.
- Usage and cost: `billing: view` or `analytics: view` read token usage; cost needs
  `billing: view`; ingesting usage rows needs `billing: manage` (internal billing tools use
  an owner's key). Members who see neither area get 404.

Another organization's data never appears: every helper works on the caller's own
organization only (`Access` comes from their membership).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from orgs.models import LEVEL_MANAGE, LEVEL_VIEW

from .audit import RESIDENCY_ACTIONS

SCOPE_ALL = "all"
SCOPE_RESIDENCY = "residency"


@dataclass(frozen=True)
class AuditScope:
    """What one member may read of their organization's audit log."""

    access: object
    scope: str  # SCOPE_ALL | SCOPE_RESIDENCY

    @property
    def organization(self):
        return self.access.organization

    @property
    def actions(self):
        """The actions visible, or None for every action."""
        return None if self.scope == SCOPE_ALL else RESIDENCY_ACTIONS

    @property
    def can_verify(self):
        # The verifier walks the whole chain and names any record; residency-only readers
        # would learn about events outside their scope.
        return self.scope == SCOPE_ALL


def audit_scope(access):
    """The member's audit scope, or 404 when they may not see the log at all."""
    if access.can("audit_log", LEVEL_VIEW):
        return AuditScope(access, SCOPE_ALL)
    if access.can("privacy", LEVEL_VIEW):
        return AuditScope(access, SCOPE_RESIDENCY)
    raise Http404("Not found.")


def can_see_usage(access):
    return access.can("billing", LEVEL_VIEW) or access.can("analytics", LEVEL_VIEW)


def can_see_cost(access):
    return access.can("billing", LEVEL_VIEW)


def require_usage_view(access):
    """Token usage: billing or analytics view; otherwise 404."""
    if not can_see_usage(access):
        raise Http404("Not found.")


def require_cost_view(access):
    """Cost: billing view. Analytics-only members know usage exists, so they get a 403."""
    require_usage_view(access)
    if not can_see_cost(access):
        raise PermissionDenied(
            f"Cost reports need Billing: view; your role ({access.role_name}) has Billing: {access.level('billing')}."
        )


def require_usage_ingest(access):
    """Ingesting usage rows: billing manage (owners have it). View-only: 403; unseen: 404."""
    require_usage_view(access)
    if not access.can("billing", LEVEL_MANAGE):
        raise PermissionDenied(
            f"Sending usage records needs Billing: manage; your role ({access.role_name}) has "
            f"Billing: {access.level('billing')}. Internal tools use an owner's API key."
        )
