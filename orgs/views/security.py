"""Organization security settings: the two-factor requirement (primary owner only, audited)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from .. import services
from ..forms import TwoFactorRequirementForm
from .base import console_page


@console_page
def security(request):
    access = request.access
    org = access.organization
    form = TwoFactorRequirementForm(request.POST or None, initial={"require_two_factor": org.require_two_factor})
    if request.method == "POST":
        if not access.is_primary_owner:
            raise PermissionDenied("Only the primary owner can change the two-factor requirement.")
        if form.is_valid():
            required = form.cleaned_data["require_two_factor"]
            services.organization_two_factor_requirement_set(actor=request.actor, organization=org, required=required)
            messages.success(request, "Two-factor sign-in is now required of members who manage an area."
                             if required else "Two-factor sign-in is no longer required.")
            return redirect("console:security")
    return render(request, "console/security.html", {"form": form, "can_change": access.is_primary_owner})
