"""Who may see and change residency: the US-only setting, workspaces' data residency, and the
usage and cost data (SPEC §2 Roles). Built on `orgs.permissions.Access`.

- US-only inference exists on the usage-based Enterprise plan (or when locked on); Privacy:
  none does not see it (404), Privacy: view reads it, Privacy: manage changes it, unless locked.
- Workspaces: Privacy: view sees all of them, Privacy: manage changes them; a member made admin
  of one workspace (guardian object permission) sees and manages that workspace's residency.
- The organization's data residency policy (every plan): Privacy: none does not see it (404),
  Privacy: view reads it, Privacy: manage changes it, unless staff locked it by contract.
- Usage and cost: `billing: view` or `analytics: view` read token usage; cost needs
  `billing: view`; ingesting usage rows needs `billing: manage`. Members who see neither get 404.
- The cost of a residency change: `billing: view` and `privacy: view`.
- Approval of loosening changes (SPEC §8): Privacy: view reads the setting and every change
  request (a requester always sees their own); only the primary owner turns approval on;
  approving and rejecting need Privacy: manage and a person other than the requester, in person
  or with a key they created themself; only the requester withdraws.

Another organization's objects answer 404, never 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from orgs.models import LEVEL_RANK, Level, Workspace, WorkspaceUserObjectPermission, permission_label
from orgs.permissions import access_organization

from .models import ChangeRequest

WORKSPACE_ADMIN_PERM = "admin_workspace"


# --- US-only inference -----------------------------------------------------------------------


def residency_unavailable_message(organization):
    return (
        "US-only inference is available on usage-based Enterprise plans; "
        f"this organization is on the {organization.get_plan_display()} plan."
    )


def require_inference_residency_exists(organization):
    """404 naming the plan requirement unless the organization has the US-only setting
    (usage-based Enterprise, or locked on by contract or a legacy opt-out)."""
    if not organization.residency_available and not organization.locked:
        raise Http404(residency_unavailable_message(organization))


def require_inference_residency(access, need=Level.VIEW):
    """Raise unless the organization has the US-only setting and the member may `need` it.

    Not on the usage-based plan (and not locked on): 404 naming the plan requirement.
    Privacy: none: 404 (the setting does not exist for them). Privacy: view asking to
    manage: 403. Writes still go through `inference_residency_set`, which audits denials.
    """
    require_inference_residency_exists(access.organization)
    access.require("privacy", need, hide=True)


def can_see_inference_residency(access):
    org = access.organization
    return (org.residency_available or org.locked) and access.can("privacy")


def can_change_inference_residency(access):
    return access.can("privacy", Level.MANAGE) and not access.organization.locked


# --- the organization's data residency policy (SPEC §5) -----------------------------------------


def can_see_residency_policy(access):
    return access.can("privacy")


def require_residency_policy(access):
    """Privacy: none does not see the policy at all (404). Writes go through
    `services.data_residency_policy_set`, which audits denials."""
    access.require("privacy", Level.VIEW, hide=True)


def can_change_residency_policy(access, policy_row):
    """Privacy: manage, and the policy is not locked by contract (`policy_row` None is the default)."""
    return access.can("privacy", Level.MANAGE) and not (policy_row is not None and policy_row.locked)


# --- workspaces --------------------------------------------------------------------------------


def workspace_level(access, workspace):
    """`manage`, `view` or `none` for this actor on this workspace's residency.

    Through an API key someone else created, a delegated workspace admin's key manages the
    workspace only if its creator may too (a key never outranks its maker, SPEC §3)."""
    org_level = access.level("privacy")
    if org_level == Level.MANAGE:
        return Level.MANAGE
    if access.membership is not None and WORKSPACE_ADMIN_PERM in access._checker.get_user_perms(workspace):
        creator_id = access.key_creator_id
        if creator_id is None or access.creator_level("privacy") == Level.MANAGE or (
                creator_id and WorkspaceUserObjectPermission.objects.filter(
                    user_id=creator_id, content_object=workspace, permission__codename=WORKSPACE_ADMIN_PERM).exists()):
            return Level.MANAGE
    return org_level


def can_see_workspaces(access):
    """Privacy: view sees every workspace; a delegated workspace admin sees theirs (the menu
    entry shows for both; the list itself is filtered by `workspaces_visible_to`)."""
    if access.can("privacy"):
        return True
    return access.membership is not None and WorkspaceUserObjectPermission.objects.filter(
        user_id=access.user.pk, content_object__organization_id=access.organization.pk).exists()


def can_manage_workspaces(access):
    """Create workspaces, archive them and name their admins: Privacy: manage (a delegated
    workspace admin manages that workspace's data residency only, not its life)."""
    return access.can("privacy", Level.MANAGE)


def require_manage_workspaces(access):
    access.require("privacy", Level.MANAGE)



def access_workspace(*, actor, id, need=Level.VIEW, organization_id=None):
    """Fetch workspace `id` if the actor may `need` it; other orgs' workspaces are 404.

    Returns (workspace, access). Can view: privacy view, or workspace admin. Can manage:
    privacy manage, or workspace admin (delegation, guardian object permission).
    """
    if actor.user is None:
        raise Http404("Not found.")
    qs = Workspace.objects.select_related("organization").filter(pk=id)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    workspace = qs.first()
    if workspace is None:
        raise Http404(f"No workspace with id {id!r}.")
    try:
        access = access_organization(actor=actor, id=workspace.organization_id)
    except Http404:
        raise Http404(f"No workspace with id {id!r}.")
    level = workspace_level(access, workspace)
    if LEVEL_RANK[level] < LEVEL_RANK[Level.VIEW]:
        raise Http404(f"No workspace with id {id!r}.")
    if LEVEL_RANK[level] < LEVEL_RANK[need]:
        raise PermissionDenied(
            f"Changing workspace {workspace.name} needs Privacy: Can manage or workspace admin; "
            f"you can only view it."
        )
    return workspace, access


# --- usage and cost ----------------------------------------------------------------------------


def can_see_usage(access):
    return access.can("billing", Level.VIEW) or access.can("analytics", Level.VIEW)


def can_see_cost(access):
    return access.can("billing", Level.VIEW)


def require_usage_view(access):
    """Token usage: billing or analytics view; otherwise 404."""
    if not can_see_usage(access):
        raise Http404("Not found.")


def require_cost_view(access):
    """Cost: billing view. Analytics-only members know usage exists, so they get a 403."""
    require_usage_view(access)
    if not can_see_cost(access):
        raise PermissionDenied(
            f"Cost reports need Billing: Can view; your role ({access.role_name}) has "
            f"{permission_label('billing', access.level('billing'))}."
        )


def require_usage_ingest(access):
    """Ingesting usage rows: billing manage (owners have it). View-only: 403; unseen: 404."""
    require_usage_view(access)
    if not access.can("billing", Level.MANAGE):
        raise PermissionDenied(
            f"Sending usage records needs Billing: Can manage; your role ({access.role_name}) has "
            f"{permission_label('billing', access.level('billing'))}. Internal tools use an owner's API key."
        )


def can_see_impact(access):
    """The cost of a residency change, shown in the console's confirmations and by REST."""
    return can_see_cost(access) and access.can("privacy", Level.VIEW)


def require_impact_view(access):
    """The cost of a residency change: Billing: view and Privacy: view; a member missing either
    does not see it (404)."""
    if not can_see_impact(access):
        raise Http404("Not found.")


# --- approval of loosening changes (SPEC §8) ---------------------------------------------------


def can_see_approvals(access):
    """The approval setting and every change request: Privacy: view."""
    return access.can("privacy")


def require_approval_settings(access):
    """Privacy: none does not see the setting (404)."""
    access.require("privacy", Level.VIEW, hide=True)


def can_turn_on_approvals(access):
    """The primary owner, in person or with a key they created themself."""
    return access.is_primary_owner and access.can("privacy", Level.MANAGE)


def is_requester(access, change_request):
    return access.membership is not None and change_request.requested_by_id == access.user.pk


def access_change_request(*, access, id):
    """A change request of the access's organization this member may see: all of them with
    Privacy: view, their own otherwise. Anything else (another organization's, an unknown id) is
    a 404."""
    change_request = (ChangeRequest.objects.select_related("requested_by", "decided_by")
                      .filter(pk=id, organization_id=access.organization.pk).first())
    if change_request is None or not (can_see_approvals(access) or is_requester(access, change_request)):
        raise Http404(f"No change request with id {id!r}.")
    return change_request


def decision_refusal(access, change_request):
    """Why this member may not approve or reject `change_request` (a sentence), or None when
    they may: Privacy: manage, not the requester, acting in person or with a key they created
    themself (a key someone else minted acts for its maker too, so it never approves)."""
    if not access.can("privacy", Level.MANAGE):
        whose = "this API key (created by someone else)" if access.through_foreign_key \
            else f"your role ({access.role_name})"
        return (f"Approving or rejecting a change request needs Privacy: Can manage; {whose} has "
                f"{permission_label('privacy', access.level('privacy'))}.")
    if access.membership is None:
        return "Change requests are approved by members of the organization."
    if change_request.requested_by_id == access.user.pk:
        return ("You asked for this change; another person with Privacy: Can manage must approve or reject it "
                "(you may withdraw it).")
    if change_request.requested_through_key_of_id == access.user.pk:
        return ("This change was asked for with an API key you created for someone else, so you cannot approve or "
                "reject it; another person with Privacy: Can manage must.")
    if access.through_foreign_key:
        return ("This API key was created by someone else, so it cannot approve or reject a change on your behalf; "
                "approve in the console, or with a key you created yourself.")
    return None


def require_may_decide(access, change_request):
    refusal = decision_refusal(access, change_request)
    if refusal is not None:
        raise PermissionDenied(refusal)


def withdrawal_refusal(access, change_request):
    """Why this member may not withdraw `change_request`, or None: only its requester may, in
    person or with a key they created themself (not the maker of a key they were given)."""
    if is_requester(access, change_request) and not access.through_foreign_key:
        return None
    if is_requester(access, change_request):
        return ("This API key was created by someone else, so it cannot withdraw a change on your behalf; "
                "withdraw it in the console, or with a key you created yourself.")
    return ("Only the person who asked for this change can withdraw it; members with Privacy: Can manage can "
            "reject it.")


def require_may_withdraw(access, change_request):
    refusal = withdrawal_refusal(access, change_request)
    if refusal is not None:
        raise PermissionDenied(refusal)
