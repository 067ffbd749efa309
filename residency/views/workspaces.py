"""Console pages for workspaces and their data residency (SPEC §2 Workspaces).

Every change goes through `residency.services`; these views read, render, and check input with
the forms in `residency.forms` (invalid input is a 400 with the errors next to the fields, and
reaches no service, so nothing is recorded). A service's ValidationError reaches the page through
`core.forms.add_service_errors`. A new workspace gets its whole data residency in one step, starting
from the organization policy's values; a change of where a workspace's inference runs is confirmed
first, with what it would have cost (SPEC §5). Pages work without JavaScript; a little JS
(static/console/workspaces.js) keeps the default-geo select within the allowed geos.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.actor import Actor, Source
from core.forms import add_service_errors, posted
from core.pagination import keyset_page
from orgs.models import Level
from orgs.views.base import console_page, deep_link_finder

from .. import approvals, selectors, services
from ..forms import (
    WorkspaceAdminForm,
    WorkspaceArchiveForm,
    WorkspaceCreateForm,
    WorkspaceListForm,
    WorkspaceResidencyForm,
    add_residency_errors,
)
from ..models import ChangeRequest
from ..permissions import (
    access_workspace,
    can_manage_workspaces,
    can_see_workspaces,
    require_manage_workspaces,
    workspace_level,
)
from ..selectors import policy_of, policy_values, workspaces_visible_to
from .approvals import held_for_approval
from .impact import change_impact

PAGE_SIZE = 25


@deep_link_finder("workspace_id")
def _workspace_elsewhere(access, workspace_id):
    """A workspace this member could open in `access`'s organization (a deep link from another)."""
    try:
        access_workspace(actor=Actor(user=access.user, source=Source.CONSOLE), id=workspace_id,
                         organization_id=access.organization.pk)
    except Http404:
        return None
    return "a workspace"


@console_page
def workspace_list(request):
    access = request.access
    if not can_see_workspaces(access):  # Privacy: none and admin of no workspace (orgs.permissions)
        raise Http404("Not found.")
    form = WorkspaceListForm(request.GET)
    show, after_id, before_id = form.params()
    qs = workspaces_visible_to(access, include_archived=show != "active")
    if show == "archived":
        qs = qs.filter(archived_at__isnull=False)
    try:
        rows, has_more = keyset_page(qs, {"limit": PAGE_SIZE, "after_id": after_id, "before_id": before_id},
                                     order_field="created_at")
    except ValidationError:  # a cursor that is not in this list (any more): the first page
        return redirect(f"{reverse('console:workspaces')}?show={show}")
    paging_back = bool(before_id)
    has_next = has_more if not paging_back else True
    has_prev = (bool(after_id) or (paging_back and has_more)) and bool(rows)
    return render(request, "console/workspaces/list.html", {
        "workspaces": rows,
        "show": show,
        "form": form,
        "can_create": can_manage_workspaces(access),
        "next_id": rows[-1].pk if rows and has_next else None,
        "prev_id": rows[0].pk if rows and has_prev else None,
    })


@console_page
def workspace_create(request):
    """Privacy: manage creates, with its data residency in one step (prefilled from the organization
    policy); Privacy: view sees the form disabled (403); Privacy: none does not see the page (404).
    A POST goes to the service once the input is valid, so a refused attempt is audited (SPEC §2
    order of checks), a hidden one too."""
    access = request.access
    can_create = can_manage_workspaces(access)
    inference_geos, workspace_geos = selectors.geos()
    policy = policy_values(policy_of(access.organization))
    form = WorkspaceCreateForm(posted(request), workspace_geos=workspace_geos, inference_geos=inference_geos,
                               current=policy)
    if not access.can("privacy"):
        if request.method == "POST" and form.is_valid():
            try:  # records the refused attempt, then answers as if the page did not exist
                services.workspace_create(actor=request.actor, organization=access.organization,
                                          name=form.cleaned_data["name"],
                                          data_residency=form.cleaned_data["data_residency"])
            except PermissionDenied:
                pass
        raise Http404("Not found.")
    status = 200 if can_create else 403
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                workspace = services.workspace_create(
                    actor=request.actor, organization=access.organization, name=form.cleaned_data["name"],
                    data_residency=form.cleaned_data["data_residency"],
                )
            except ValidationError as exc:
                add_residency_errors(form, exc, policy=policy, inference_geos=inference_geos)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
                status = 403
            else:
                messages.success(request, f"Workspace {workspace.name} created.")
                return redirect("console:workspace_detail", workspace_id=workspace.pk)
    return render(request, "console/workspaces/create.html", {"form": form, "can_create": can_create,
                                                              "policy": policy}, status=status)


def _detail_page(request, workspace, access, *, form=None, admin_form=None, status=200):
    """The workspace page: its data residency form, its admins and the way to archive it."""
    if form is None:
        form = WorkspaceResidencyForm(workspace=workspace, inference_geos=selectors.geos()[0])
    level = workspace_level(access, workspace)
    can_delegate = can_manage_workspaces(access) and not workspace.is_archived
    admins = selectors.workspace_admins(workspace)
    candidates = selectors.delegation_candidates(workspace, admins) if can_delegate else []
    return render(request, "console/workspaces/detail.html", {
        "workspace": workspace,
        "form": form,
        "admin_form": admin_form or WorkspaceAdminForm(organization=workspace.organization),
        "can_manage": level == Level.MANAGE and not workspace.is_archived,
        "can_archive": can_manage_workspaces(access) and not workspace.is_archived,
        "can_delegate": can_delegate,
        "admins": admins,
        "candidates": candidates,
    }, status=status)


@console_page
def workspace_detail(request, workspace_id):
    """GET shows the workspace. A POST that changes where its inference runs shows the change and
    its cost and asks to confirm (`confirmed`); a rename alone, or a confirmed POST, saves."""
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    if request.method != "POST":
        return _detail_page(request, workspace, access)
    inference_geos, _ = selectors.geos()
    form = WorkspaceResidencyForm(request.POST, workspace=workspace, inference_geos=inference_geos)
    status = 400
    if form.is_valid():
        residency = form.cleaned_data["data_residency"]
        try:
            if (workspace_level(access, workspace) == Level.MANAGE and not workspace.is_archived
                    and form.changes_inference_geos and not form.cleaned_data["confirmed"]):
                # checked as the service will check it (the organization policy too) before confirming
                services.data_residency_clean(residency, organization=workspace.organization,
                                              current=workspace.data_residency)
                return render(request, "console/workspaces/residency_confirm.html", {
                    "workspace": workspace, "form": form, "residency": residency,
                    "impact": change_impact(request, {"workspace": {"id": workspace.pk,
                                                                    "data_residency": residency}}),
                    "needs_approval": approvals.needs_approval(
                        workspace.organization, {k: workspace.data_residency.get(k) for k in residency}, residency),
                })
            # Members who may only view it still reach the service, so the attempt is audited.
            result = services.workspace_update(actor=request.actor, workspace=workspace,
                                               name=form.cleaned_data["name"], data_residency=residency)
        except ValidationError as exc:
            add_residency_errors(form, exc, policy=policy_values(policy_of(workspace.organization)),
                                 inference_geos=inference_geos)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            if isinstance(result, ChangeRequest):
                return held_for_approval(request, result)
            messages.success(request, f"Saved data residency for {form.cleaned_data['name']}.")
            return redirect("console:workspace_detail", workspace_id=workspace.pk)
    return _detail_page(request, workspace, access, form=form, status=status)


@console_page
def workspace_archive(request, workspace_id):
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    if request.method != "POST":
        require_manage_workspaces(access)
        if workspace.is_archived:
            messages.info(request, f"{workspace.name} is already archived.")
            return redirect("console:workspace_detail", workspace_id=workspace.pk)
        return render(request, "console/workspaces/archive.html", {
            "workspace": workspace, "form": WorkspaceArchiveForm(workspace=workspace)})
    form = WorkspaceArchiveForm(request.POST, workspace=workspace)
    if not form.is_valid():
        return render(request, "console/workspaces/archive.html", {"workspace": workspace, "form": form},
                      status=400)
    was_archived = workspace.is_archived
    services.workspace_archive(actor=request.actor, workspace=workspace)  # 403 below Privacy: manage
    if was_archived:
        messages.info(request, f"{workspace.name} is already archived.")
    else:
        messages.success(request, f"Workspace {workspace.name} archived. Requests to it are now refused.")
    return redirect("console:workspace_detail", workspace_id=workspace.pk)


@console_page
@require_POST
def workspace_admins(request, workspace_id):
    """Grant or revoke per-workspace admin (delegation) for one member."""
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    form = WorkspaceAdminForm(request.POST, organization=workspace.organization)
    if not form.is_valid():
        return _detail_page(request, workspace, access, admin_form=form, status=400)
    membership, grant = form.cleaned_data["membership_id"], form.cleaned_data["admin"] == "on"
    try:
        services.workspace_admin_set(actor=request.actor, workspace=workspace, membership=membership, admin=grant)
    except ValidationError as exc:
        add_service_errors(form, exc, field_map={"user_id": "membership_id"})
        return _detail_page(request, workspace, access, admin_form=form, status=400)
    if grant:
        messages.success(request, f"{membership.user.email} can now manage {workspace.name}'s data residency.")
    else:
        messages.success(request, f"{membership.user.email} is no longer an admin of {workspace.name}.")
    return redirect("console:workspace_detail", workspace_id=workspace.pk)
