"""Console pages for the organization: home and the organization switcher."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.actor import actor_from_request

from .permissions import Access
from .selectors import current_membership, memberships_for_user


def console_page(view):
    """Signed-in member pages: sets `request.access` (current organization) and `request.actor`."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = current_membership(request)
        if membership is None:
            return render(request, "console/no_organization.html", status=403)
        request.access = Access(request.user, membership.organization, membership)
        request.actor = actor_from_request(request, source="console")
        return view(request, *args, **kwargs)

    return wrapper


@console_page
def home(request):
    access = request.access
    return render(request, "console/home.html", {
        "membership": access.membership,
        "levels": access.levels(),
    })


@login_required
@require_POST
def switch_organization(request):
    org_id = request.POST.get("organization_id", "")
    memberships = {m.organization_id: m for m in memberships_for_user(request.user)}
    if org_id not in memberships:
        messages.error(request, "You are not a member of that organization.")
    else:
        request.session["organization_id"] = org_id
        request.user.last_organization_id = org_id
        request.user.save(update_fields=["last_organization_id"])
        messages.success(request, f"Switched to {memberships[org_id].organization.name}.")
    return redirect("console:home")
