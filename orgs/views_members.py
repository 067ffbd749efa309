"""Members and roles pages: list, add, change role, remove, transfer primary ownership;
built-in roles explained and custom roles (Enterprise plans) with their area matrix."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from . import services
from .forms import LEVEL_TEXT, MemberAddForm, MemberRoleForm, RoleForm, add_service_errors
from .models import AREA_LABELS, AREAS, LEVEL_MANAGE, ROLE_PRIMARY_OWNER, ApiKey
from .permissions import access_member, access_role, may_invite, require_roles_view
from .selectors import assignable_roles, members_of, roles_with_member_counts
from .views_common import member_page

MEMBERS_PER_PAGE = 50


def _can_manage_member(access, membership):
    """Pure check from loaded data (no query per row): never the primary owner, never someone
    whose role has more access than yours (the service enforces the same)."""
    return (
        access.can("user_management", LEVEL_MANAGE)
        and membership.role_id != ROLE_PRIMARY_OWNER
        and access.role_fits_within(membership.role)
    )


@member_page
def members(request):
    access = request.access
    access.require("user_management")
    page = Paginator(members_of(access.organization), MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(m, _can_manage_member(access, m)) for m in page.object_list]
    return render(request, "console/members/list.html", {
        "page": page, "rows": rows, "can_add": access.can("user_management", LEVEL_MANAGE),
        "me": access.membership,
    })


@member_page
def member_add(request):
    access = request.access
    access.require("user_management", LEVEL_MANAGE)
    roles = assignable_roles(access)
    form = MemberAddForm(request.POST or None, roles=roles, initial={"role": "user"})
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
            if may_invite(access, user):
                # A new person: the owner sends them this one-time link to choose a password.
                link = request.build_absolute_uri(invitation_path(user))
                return render(request, "console/members/invited.html", {"membership": membership, "link": link})
            messages.success(request, f"{user.email} is now a member, as {membership.role.name}.")
            return redirect("console:members")
    return render(request, "console/members/add.html", {"form": form}, status=status)


def invitation_path(user):
    """A set-password link for a new member (Django's password-reset token: single use, expires
    after PASSWORD_RESET_TIMEOUT, invalidated once the password is set)."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return reverse("password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                                   default_token_generator.make_token(user)])


@member_page
def member_detail(request, user_id):
    """A member and, for those who may, the change-role form."""
    access = request.access
    membership = access_member(access=access, user_id=user_id)
    can_manage = _can_manage_member(access, membership)
    roles = assignable_roles(access) if can_manage else []
    form = MemberRoleForm(request.POST or None, roles=roles, initial={"role": membership.role_id})
    status = 200
    if request.method == "POST":
        access.require("user_management", LEVEL_MANAGE)
        if not can_manage:
            raise PermissionDenied(
                "The primary owner's role cannot be changed; the primary owner must transfer the title first."
                if membership.role_id == ROLE_PRIMARY_OWNER
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
        "can_transfer": access.is_primary_owner and membership.role_id != ROLE_PRIMARY_OWNER,
        "active_keys": ApiKey.objects.filter(membership=membership, revoked_at__isnull=True).count(),
        "invite_link": request.build_absolute_uri(invitation_path(membership.user))
        if can_manage and may_invite(access, membership.user) else None,
    }, status=status)


@member_page
def member_remove(request, user_id):
    access = request.access
    membership = access_member(access=access, user_id=user_id, need=LEVEL_MANAGE)
    if request.method == "POST":
        try:
            services.member_remove(actor=request.actor, membership=membership)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("console:member_detail", user_id=user_id)
        messages.success(request, f"{membership.user.email} was removed from {access.organization.name}; "
                                  "their API keys no longer work.")
        return redirect("console:members")
    if not _can_manage_member(access, membership):
        raise PermissionDenied(
            "The primary owner cannot be removed; transfer the title first."
            if membership.role_id == ROLE_PRIMARY_OWNER
            else f"You cannot remove a member whose role ({membership.role.name}) has more access than yours."
        )
    return render(request, "console/members/remove.html", {
        "member": membership,
        "active_keys": ApiKey.objects.filter(membership=membership, revoked_at__isnull=True).count(),
    })


@member_page
def member_transfer(request, user_id):
    """Hand the primary-owner title to this member (primary owner only, confirmed)."""
    access = request.access
    membership = access_member(access=access, user_id=user_id)
    if not access.is_primary_owner:
        raise PermissionDenied("Only the primary owner can transfer primary ownership.")
    if membership.role_id == ROLE_PRIMARY_OWNER:
        messages.info(request, "You are already the primary owner.")
        return redirect("console:member_detail", user_id=user_id)
    if request.method == "POST":
        services.primary_owner_transfer(actor=request.actor, organization=access.organization,
                                        to_membership=membership)
        messages.success(request, f"{membership.user.email} is now the primary owner; you are now an owner.")
        return redirect("console:members")
    return render(request, "console/members/transfer.html", {"member": membership})


# --- roles ------------------------------------------------------------------------------------


def _levels_rows(roles):
    return [(role, [(AREA_LABELS[a], role.level(a), LEVEL_TEXT[role.level(a)]) for a in AREAS]) for role in roles]


@member_page
def roles(request):
    access = request.access
    require_roles_view(access)
    org = access.organization
    all_roles = roles_with_member_counts(org)
    return render(request, "console/roles/list.html", {
        "builtin_rows": _levels_rows([r for r in all_roles if r.builtin]),
        "custom_rows": _levels_rows([r for r in all_roles if not r.builtin]),
        "area_labels": [AREA_LABELS[a] for a in AREAS],
        "can_edit": org.is_enterprise and access.can("identity_access", LEVEL_MANAGE),
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


@member_page
def role_create(request):
    access = request.access
    access.require("identity_access", LEVEL_MANAGE)
    if not access.organization.is_enterprise:
        raise PermissionDenied("Custom roles are available on Enterprise plans.")
    form = RoleForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        role, status = _save_role(request, form, lambda: services.role_create(
            actor=request.actor, organization=access.organization,
            name=form.cleaned_data["name"], permissions=form.permissions()))
        if role is not None:
            messages.success(request, f"Role {role.name} created. Assign it on the Members page.")
            return redirect("console:roles")
    return _role_form_page(request, form=form, status=status)


@member_page
def role_edit(request, role_id):
    access = request.access
    role = access_role(access=access, id=role_id, need=LEVEL_MANAGE)
    form = RoleForm(request.POST or None, initial={"name": role.name, **role.permissions})
    status = 200
    if request.method == "POST" and form.is_valid():
        saved, status = _save_role(request, form, lambda: services.role_update(
            actor=request.actor, role=role, name=form.cleaned_data["name"], permissions=form.permissions()))
        if saved is not None:
            messages.success(request, f"Role {saved.name} saved; its members' access changed at once.")
            return redirect("console:roles")
    return _role_form_page(request, form=form, role=role, status=status)
