"""Settings → Privacy → Data residency: the organization's US-only inference setting."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse

from orgs.views.base import console_page

from .. import services
from ..approvals import needs_approval
from ..forms import InferenceResidencyForm
from ..models import ChangeRequest
from ..permissions import can_change_inference_residency, require_inference_residency
from ..selectors import (
    inference_residency_history,
    models_by_rate,
    policy_info,
    policy_of,
    workspaces_routing_outside,
)
from .approvals import held_for_approval
from .impact import change_impact

LOCK_EXPLANATIONS = {
    "contract": "US-only inference is part of your organization's contract, so it is always on and can't be changed here.",
    "legacy_opt_out": "Your organization opted out of global routing before this setting existed, so US-only "
                      "inference is already on and can't be changed.",
}
SAVED_MESSAGES = {
    True: "US-only inference is on: from now on, new requests from the Claude apps run in the United States. "
          "Some apps may take a moment to pick up the change.",
    False: "US-only inference is off: from now on, inference may be routed to other regions again. "
           "Some apps may take a moment to pick up the change.",
}


def _page(request, *, status=200, error=None):
    access = request.access
    org = access.organization
    uplift, standard = models_by_rate()
    # US-only inference governs the Claude apps; the API is governed by the policy and per workspace
    outside_us, live = workspaces_routing_outside(org, policy_info(policy_of(org)))
    return render(request, "console/residency.html", {
        "org": org,
        "can_change": can_change_inference_residency(access),
        "lock_explanation": LOCK_EXPLANATIONS.get(org.lock_reason, ""),
        "history": inference_residency_history(org),
        "uplift_models": uplift,
        "standard_models": standard,
        "error": error,
        "outside_us": outside_us,
        "live_workspaces": live,
    }, status=status)


@console_page
def residency(request):
    """GET shows the setting. POST {us_only} shows what would change and asks to confirm;
    POST {us_only, confirmed} saves through `inference_residency_set` (which audits denials)."""
    access = request.access
    org = access.organization
    if request.method != "POST":
        require_inference_residency(access)
        return _page(request)
    form = InferenceResidencyForm(request.POST)
    if not form.is_valid():
        require_inference_residency(access)
        return _page(request, status=400, error=" ".join(form.errors.get("us_only", ["Choose on or off."])))
    us_only = form.cleaned_data["us_only"]
    wants_confirmation = can_change_inference_residency(access) and not form.cleaned_data["confirmed"]
    if wants_confirmation and us_only != org.us_only_inference:
        return render(request, "console/residency_confirm.html", {
            "org": org, "us_only": us_only, "uplift_models": models_by_rate()[0],
            "needs_approval": needs_approval(org, {"us_only": org.us_only_inference}, {"us_only": us_only}),
            "impact": change_impact(request, {"us_only": us_only}),
        })
    was = org.us_only_inference
    try:
        # Members who may not change it still reach the service, so the attempt is audited.
        result = services.inference_residency_set(actor=request.actor, organization=org, us_only=us_only)
    except PermissionDenied as exc:
        return _page(request, status=403, error=str(exc))
    if isinstance(result, ChangeRequest):
        return held_for_approval(request, result)
    if us_only == was:
        messages.info(request, f"US-only inference was already {'on' if was else 'off'}; nothing changed.")
    else:
        messages.success(request, SAVED_MESSAGES[us_only])
    # back to the switch, so a keyboard user is where they started (static/console/console.js)
    return redirect(reverse("console:residency") + "#us-only-switch")
