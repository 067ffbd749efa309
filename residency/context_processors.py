"""The console layout's navigation: which entries a member sees, decided by the same
`permissions` helpers that guard the pages (hiding an entry is never the authorization)."""

from audit.permissions import can_read_audit_log
from orgs.permissions import can_see_roles
from residency.permissions import (
    can_see_approvals,
    can_see_inference_residency,
    can_see_residency_policy,
    can_see_usage,
    can_see_workspaces,
)


def console(request):
    """Navigation state for the console layout; only pages that set `request.access` get menus."""
    access = getattr(request, "access", None)
    if access is None:
        return {"access": None, "current_org": None, "levels": {}, "nav": {}}
    nav = {
        "residency": can_see_inference_residency(access),
        "approvals": can_see_approvals(access),
        "residency_policy": can_see_residency_policy(access),
        "workspaces": can_see_workspaces(access),
        "members": access.can("user_management"),
        "roles": can_see_roles(access),
        "api_keys": True,  # every member has their own keys
        "audit_log": can_read_audit_log(access),
        "usage": can_see_usage(access),
    }
    return {"access": access, "current_org": access.organization, "levels": access.levels(), "nav": nav}
