"""Who may read the change history (SPEC §2 Audit, Roles).

`audit_log: view` (owners hold it) sees every event of the organization; `privacy: view` alone
sees the residency history (`RESIDENCY_ACTIONS`); anyone else gets 404, as if the log did not
exist. Nobody can change anything there. Only whole-log readers may verify the chain: the
verifier names records outside the residency scope.
"""

from dataclasses import dataclass

from django.http import Http404

from orgs.models import Level

from .events import RESIDENCY_ACTIONS

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
        return self.scope == SCOPE_ALL


def can_read_audit_log(access):
    return access.can("audit_log", Level.VIEW) or access.can("privacy", Level.VIEW)


def audit_scope(access):
    """The member's audit scope, or 404 when they may not see the log at all."""
    if access.can("audit_log", Level.VIEW):
        return AuditScope(access, SCOPE_ALL)
    if access.can("privacy", Level.VIEW):
        return AuditScope(access, SCOPE_RESIDENCY)
    raise Http404("Not found.")
