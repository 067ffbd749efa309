"""Console pages for workspaces and their data residency (SPEC §2 Workspaces).

Every change goes through `residency.services`; these views only read, render and translate a
service's ValidationError into field messages. Pages work without JavaScript; a little JS
(static/console/workspaces.js) keeps the default-geo select within the allowed geos.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import django_validation_detail, flatten_detail
from core.pagination import keyset_page
from orgs.models import Level
from orgs.selectors import member_of
from orgs.views.base import console_page

from .. import selectors, services
from ..permissions import access_workspace, can_create_workspaces, workspace_level
from ..policy import UNRESTRICTED
from ..selectors import workspaces_visible_to

PAGE_SIZE = 25
SHOW_CHOICES = [("active", "Active"), ("archived", "Archived"), ("all", "All")]


def _errors(exc):
    """Service errors keyed by form field ("form" for the rest)."""
    detail = django_validation_detail(exc)
    if not isinstance(detail, dict):
        return {"form": list(detail)}
    errors = {}
    for key, msgs in detail.items():
        field = key.removeprefix("data_residency.")
        if field not in ("name", "workspace_geo", "allowed_inference_geos", "default_inference_geo"):
            field = "form"
            msgs = flatten_detail({key: msgs})
        errors.setdefault(field, []).extend(msgs)
    return errors


@console_page
def workspace_list(request):
    access = request.access
    show = request.GET.get("show", "active")
    if show not in dict(SHOW_CHOICES):
        show = "active"
    qs = workspaces_visible_to(access, include_archived=show != "active")
    if show == "archived":
        qs = qs.filter(archived_at__isnull=False)
    params = {"limit": PAGE_SIZE, "after_id": request.GET.get("after_id"), "before_id": request.GET.get("before_id")}
    try:
        rows, has_more = keyset_page(qs, params, order_field="created_at")
    except ValidationError:
        return redirect(f"{reverse('console:workspaces')}?show={show}")
    paging_back = bool(params["before_id"])
    has_next = has_more if not paging_back else True
    has_prev = (bool(params["after_id"]) or (paging_back and has_more)) and bool(rows)
    return render(request, "console/workspaces/list.html", {
        "workspaces": rows,
        "show": show,
        "show_choices": SHOW_CHOICES,
        "can_create": can_create_workspaces(access),
        "next_id": rows[-1].pk if rows and has_next else None,
        "prev_id": rows[0].pk if rows and has_prev else None,
    })


@console_page
def workspace_create(request):
    access = request.access
    can_create = can_create_workspaces(access)
    _, workspace_geos = selectors.geos()
    values = {"name": "", "workspace_geo": "us"}
    errors = {}
    status = 200 if can_create else 403
    if request.method == "POST" and can_create:
        values = {"name": request.POST.get("name", ""), "workspace_geo": request.POST.get("workspace_geo", "")}
        try:
            workspace = services.workspace_create(
                actor=request.actor, organization=access.organization, name=values["name"],
                data_residency={"workspace_geo": values["workspace_geo"]},
            )
        except ValidationError as exc:
            errors, status = _errors(exc), 400
        except PermissionDenied as exc:
            errors, status = {"form": [str(exc)]}, 403
        else:
            messages.success(request, f"Workspace {workspace.name} created.")
            return redirect("console:workspace_detail", workspace_id=workspace.pk)
    elif request.method == "POST":
        errors = {"form": ["Creating workspaces needs Privacy: manage."]}
    return render(request, "console/workspaces/create.html", {
        "values": values, "errors": errors, "workspace_geos": workspace_geos, "can_create": can_create,
    }, status=status)


def _residency_values(workspace):
    allowed = workspace.allowed_inference_geos
    return {
        "name": workspace.name,
        "allowed_mode": "unrestricted" if allowed is None else "restricted",
        "allowed_geos": list(allowed or []),
        "default_inference_geo": workspace.default_inference_geo,
    }


@console_page
def workspace_detail(request, workspace_id):
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    level = workspace_level(access, workspace)
    can_manage = level == Level.MANAGE and not workspace.is_archived
    values, errors, status = _residency_values(workspace), {}, 200
    if request.method == "POST":
        values = {
            "name": request.POST.get("name", ""),
            "allowed_mode": request.POST.get("allowed_mode", ""),
            "allowed_geos": request.POST.getlist("allowed_geos"),
            "default_inference_geo": request.POST.get("default_inference_geo", ""),
        }
        if values["allowed_mode"] == "unrestricted":
            allowed = UNRESTRICTED
        elif values["allowed_mode"] == "restricted":
            allowed = values["allowed_geos"]
        else:
            allowed = None
        # an empty default (no allowed geo ticked, so the select had nothing) is not a second error
        residency = {"default_inference_geo": values["default_inference_geo"]} if values["default_inference_geo"] else {}
        if allowed is not None:
            residency["allowed_inference_geos"] = allowed
        try:
            services.workspace_update(actor=request.actor, workspace=workspace, name=values["name"],
                                      data_residency=residency)
        except ValidationError as exc:
            errors, status = _errors(exc), 400
            if allowed is None:
                errors.setdefault("allowed_inference_geos", []).append("Choose unrestricted or a set of geos.")
        except PermissionDenied as exc:
            errors, status = {"form": [str(exc)]}, 403
        else:
            messages.success(request, f"Saved data residency for {values['name'].strip()}.")
            return redirect("console:workspace_detail", workspace_id=workspace.pk)
    inference_geos, _ = selectors.geos()
    can_delegate = access.can("privacy", Level.MANAGE) and not workspace.is_archived
    admins = selectors.workspace_admins(workspace)
    candidates = selectors.delegation_candidates(workspace, admins) if can_delegate else []
    return render(request, "console/workspaces/detail.html", {
        "workspace": workspace,
        "values": values,
        "errors": errors,
        "inference_geos": inference_geos,
        "can_manage": can_manage,
        "can_archive": access.can("privacy", Level.MANAGE) and not workspace.is_archived,
        "can_delegate": can_delegate,
        "admins": admins,
        "candidates": candidates,
    }, status=status)


@console_page
def workspace_archive(request, workspace_id):
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    access.require("privacy", Level.MANAGE)
    if request.method == "POST" and not workspace.is_archived:
        if request.POST.get("confirm") != "yes":
            return render(request, "console/workspaces/archive.html", {
                "workspace": workspace, "error": "Tick the box to confirm that archiving is permanent."}, status=400)
        services.workspace_archive(actor=request.actor, workspace=workspace)
        messages.success(request, f"Workspace {workspace.name} archived. Requests to it are now refused.")
        return redirect("console:workspace_detail", workspace_id=workspace.pk)
    if workspace.is_archived:
        messages.info(request, f"{workspace.name} is already archived.")
        return redirect("console:workspace_detail", workspace_id=workspace.pk)
    return render(request, "console/workspaces/archive.html", {"workspace": workspace})


@console_page
@require_POST
def workspace_admins(request, workspace_id):
    """Grant or revoke per-workspace admin (delegation) for one member."""
    workspace, access = access_workspace(actor=request.actor, id=workspace_id,
                                         organization_id=request.access.organization.pk)
    membership = member_of(workspace.organization, membership_id=request.POST.get("membership_id", ""))
    if membership is None:
        messages.error(request, "Choose a member of this organization.")
        return redirect("console:workspace_detail", workspace_id=workspace.pk)
    grant = request.POST.get("admin") == "on"
    services.workspace_admin_set(actor=request.actor, workspace=workspace, membership=membership, admin=grant)
    if grant:
        messages.success(request, f"{membership.user.email} can now manage {workspace.name}'s data residency.")
    else:
        messages.success(request, f"{membership.user.email} is no longer an admin of {workspace.name}.")
    return redirect("console:workspace_detail", workspace_id=workspace.pk)

