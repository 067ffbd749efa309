"""Roles pages: the built-in roles explained, and custom roles (Enterprise plans) with their
area matrix."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from core.forms import add_service_errors, posted

from .. import services
from ..forms import LEVEL_TEXT, RoleForm
from ..models import AREA_LABELS, AREAS, Level
from ..permissions import access_role, may_edit_roles, require_roles_view
from ..selectors import roles_with_member_counts
from .base import console_page


def _levels_rows(roles):
    return [(role, [(AREA_LABELS[a], role.level(a), LEVEL_TEXT[role.level(a)]) for a in AREAS]) for role in roles]


@console_page
def roles(request):
    access = request.access
    require_roles_view(access, hide=True)
    org = access.organization
    all_roles = roles_with_member_counts(org)
    return render(request, "console/roles/list.html", {
        "builtin_rows": _levels_rows([r for r in all_roles if r.builtin]),
        "custom_rows": _levels_rows([r for r in all_roles if not r.builtin]),
        "area_labels": [AREA_LABELS[a] for a in AREAS],
        "can_edit": may_edit_roles(access),
    })


def _role_form_page(request, *, form, role=None, status=200):
    return render(request, "console/roles/form.html", {"form": form, "role": role}, status=status)


def _save_role(request, form, save):
    try:
        role = save()
    except ValidationError as exc:
        add_service_errors(form, exc, field_map={"permissions": None})
        return None, 200
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return None, 403
    return role, 200


@console_page
def role_create(request):
    access = request.access
    access.require("identity_access", Level.MANAGE, hide=True)
    if not access.organization.is_enterprise:
        # like US-only inference off its plan: the feature does not exist here (404), and says why
        raise Http404(f"Custom roles are available on Enterprise plans; {access.organization.name} is on the "
                      f"{access.organization.get_plan_display()} plan.")
    form = RoleForm(posted(request))
    status = 200
    if request.method == "POST" and form.is_valid():
        role, status = _save_role(request, form, lambda: services.role_create(
            actor=request.actor, organization=access.organization,
            name=form.cleaned_data["name"], permissions=form.permissions()))
        if role is not None:
            messages.success(request, f"Role {role.name} created. Assign it on the Members page.")
            return redirect("console:roles")
    return _role_form_page(request, form=form, status=status)


@console_page
def role_edit(request, role_id):
    access = request.access
    role = access_role(access=access, id=role_id, need=Level.MANAGE, hide=True)
    form = RoleForm(posted(request), initial={"name": role.name, **role.permissions})
    status = 200
    if request.method == "POST" and form.is_valid():
        saved, status = _save_role(request, form, lambda: services.role_update(
            actor=request.actor, role=role, name=form.cleaned_data["name"], permissions=form.permissions()))
        if saved is not None:
            messages.success(request, f"Role {saved.name} saved; its members' access changed at once.")
            return redirect("console:roles")
    return _role_form_page(request, form=form, role=role, status=status)
