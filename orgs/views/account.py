"""The signed-in person's own things: which organization the console acts in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ..selectors import memberships_for_user


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
