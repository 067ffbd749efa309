"""The signed-in person's own things: which organization the console acts in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ..selectors import memberships_for_user


@login_required
@require_POST
def switch_organization(request):
    """Act in another of the person's organizations; `next` (a path on this site, e.g. the deep
    link that offered the switch) is where to go then, else Overview."""
    org_id = request.POST.get("organization_id", "")
    next_url = request.POST.get("next", "")
    memberships = {m.organization_id: m for m in memberships_for_user(request.user)}
    if org_id not in memberships:
        messages.error(request, "You are not a member of that organization.")
    else:
        request.session["organization_id"] = org_id
        request.user.last_organization_id = org_id
        request.user.save(update_fields=["last_organization_id"])
        messages.success(request, f"Switched to {memberships[org_id].organization.name}.")
        if next_url.startswith("/") and url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            return redirect(next_url)
    return redirect("console:home")
