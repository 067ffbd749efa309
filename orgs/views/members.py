"""Members pages: list, add, change role, remove, transfer primary ownership."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from core.forms import ConfirmForm, PageForm, add_service_errors, posted

from .. import services
from ..forms import MemberAddForm, MemberRoleForm
from ..models import BuiltinRole, Level
from ..permissions import access_member, can_manage_member, may_transfer_primary_owner
from ..selectors import active_key_count, assignable_roles, members_of
from .base import console_page

MEMBERS_PER_PAGE = 50


@console_page
def members(request):
    access = request.access
    access.require("user_management", hide=True)
    page = Paginator(members_of(access.organization), MEMBERS_PER_PAGE).get_page(PageForm.number(request.GET))
    rows = [(m, can_manage_member(access, m)) for m in page.object_list]
    return render(request, "console/members/list.html", {
        "page": page, "rows": rows, "can_add": access.can("user_management", Level.MANAGE),
        "me": access.membership,
    })


@console_page
def member_add(request):
    access = request.access
    access.require("user_management", Level.MANAGE, hide=True)
    roles = assignable_roles(access)
    form = MemberAddForm(posted(request), roles=roles, initial={"role": "user"})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.member_add(
                actor=request.actor, organization=access.organization,
                email=form.cleaned_data["email"], role_id=form.cleaned_data["role"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error("role", str(exc))
            status = 403
        else:
            user = membership.user
            # the email goes to them alone: nobody here ever sees an invitation link (SPEC §6)
            sent = ("We emailed them an invitation to choose their password." if not user.has_usable_password()
                    else "We emailed them a notice; they sign in with their existing account.")
            messages.success(request, f"{user.email} is now a member, as {membership.role.name}. {sent}")
            return redirect("console:members")
    return render(request, "console/members/add.html", {"form": form}, status=status)


@console_page
def member_detail(request, user_id):
    """A member and, for those who may, the change-role form."""
    access = request.access
    membership = access_member(access=access, user_id=user_id, hide=True)
    can_manage = can_manage_member(access, membership)
    roles = assignable_roles(access) if can_manage else []
    form = MemberRoleForm(posted(request), roles=roles, initial={"role": membership.role_id})
    status = 200
    if request.method == "POST":
        access.require("user_management", Level.MANAGE)
        if not can_manage:
            raise PermissionDenied(
                "The primary owner's role cannot be changed; the primary owner must transfer the title first."
                if membership.role_id == BuiltinRole.PRIMARY_OWNER
                else f"You cannot change the role of a member whose role ({membership.role.name}) "
                     "has more access than yours."
            )
        if form.is_valid():
            try:
                updated = services.member_change_role(actor=request.actor, membership=membership,
                                                      role_id=form.cleaned_data["role"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error("role", str(exc))
                status = 403
            else:
                if updated.role_id == membership.role_id:
                    messages.info(request, f"{membership.user.email} already has that role; nothing changed.")
                else:
                    messages.success(request, f"{membership.user.email} is now {updated.role.name}.")
                return redirect("console:member_detail", user_id=user_id)
    return render(request, "console/members/detail.html", {
        "member": membership, "form": form, "can_manage": can_manage,
        "is_me": access.membership is not None and access.membership.pk == membership.pk,
        "can_transfer": may_transfer_primary_owner(access) and membership.role_id != BuiltinRole.PRIMARY_OWNER,
        "active_keys": active_key_count(membership),
    }, status=status)


@console_page
def member_remove(request, user_id):
    access = request.access
    membership = access_member(access=access, user_id=user_id, need=Level.MANAGE, hide=True)
    form = ConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.member_remove(actor=request.actor, membership=membership)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{membership.user.email} was removed from {access.organization.name}; "
                                      "their API keys no longer work.")
            return redirect("console:members")
    elif not can_manage_member(access, membership):
        raise PermissionDenied(
            "The primary owner cannot be removed; transfer the title first."
            if membership.role_id == BuiltinRole.PRIMARY_OWNER
            else f"You cannot remove a member whose role ({membership.role.name}) has more access than yours."
        )
    return render(request, "console/members/remove.html", {
        "member": membership, "form": form,
        "active_keys": active_key_count(membership),
    })


@console_page
def member_transfer(request, user_id):
    """Hand the primary-owner title to this member (primary owner only, confirmed)."""
    access = request.access
    membership = access_member(access=access, user_id=user_id, hide=True)
    if not access.is_primary_owner:
        raise PermissionDenied("Only the primary owner can transfer primary ownership.")
    if membership.role_id == BuiltinRole.PRIMARY_OWNER:
        messages.info(request, "You are already the primary owner.")
        return redirect("console:member_detail", user_id=user_id)
    form = ConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.primary_owner_transfer(actor=request.actor, organization=access.organization,
                                            to_membership=membership)
        except ValidationError as exc:  # e.g. they left the organization a moment ago
            add_service_errors(form, exc, field_map={"user": None})
        else:
            messages.success(request, f"{membership.user.email} is now the primary owner; you are now an owner.")
            return redirect("console:members")
    return render(request, "console/members/transfer.html", {"member": membership, "form": form})
