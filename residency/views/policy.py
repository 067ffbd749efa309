"""Settings → Privacy → Data residency policy: the organization's bound over every workspace
(SPEC §5), on every plan.

Privacy: view reads it (the form disabled), Privacy: manage changes it unless staff locked it by
contract. A change is confirmed first, with what it would have cost and which workspaces it leaves
outside (or brings inside); it is saved by `services.data_residency_policy_set`, which audits it and
every refusal. A change that loosens residency while the organization asks for approval (SPEC §8)
is sent for approval instead: the confirmation says so first. Invalid input is a 400 with the
errors next to the fields and reaches no service.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from core.forms import add_service_errors
from orgs.views.base import console_page

from .. import approvals, selectors, services
from ..forms import DataResidencyPolicyForm
from ..models import ChangeRequest
from ..permissions import can_change_residency_policy, require_residency_policy
from ..policy import policy_info_from
from ..selectors import POLICY_HISTORY_ACTIONS, policy_preview, policy_state, policy_values, residency_history
from .approvals import held_for_approval
from .impact import change_impact

TEMPLATE = "console/policy/page.html"


def _page(request, state, form, *, status=200):
    access = request.access
    return render(request, TEMPLATE, {
        "state": state,
        "form": form,
        "can_manage": can_change_residency_policy(access, state.row),
        "history": residency_history(access.organization, actions=POLICY_HISTORY_ACTIONS),
    }, status=status)


@console_page
def residency_policy(request):
    """GET shows the policy. POST {allowed_mode, allowed_geos, default_inference_geo,
    apply_to_workspaces} shows what would change and asks to confirm; POST with `confirmed` saves."""
    access = request.access
    org = access.organization
    if request.method == "POST":
        # Privacy: none does not see the policy: a 404 before the input is read, and audited
        services.data_residency_policy_refuse_hidden(actor=request.actor, organization=org)
    else:
        require_residency_policy(access)
    state = policy_state(org)
    current = policy_values(state.row)
    inference_geos, _ = selectors.geos()
    form = DataResidencyPolicyForm(request.POST if request.method == "POST" else None,
                                   inference_geos=inference_geos, current=current)
    if request.method != "POST":
        return _page(request, state, form)
    if not form.is_valid():
        return _page(request, state, form, status=400)
    values, apply = form.cleaned_data["inference_geos"], form.cleaned_data["apply_to_workspaces"]
    if can_change_residency_policy(access, state.row) and not form.cleaned_data["confirmed"]:
        if not form.changes_inference_geos and not (apply and state.nonconforming):
            messages.info(request, "The data residency policy already says that; nothing changed.")
            return redirect("console:residency_policy")
        return render(request, "console/policy/confirm.html", {
            "form": form, "state": state, "values": values, "apply": apply, "current": current,
            "outside": policy_preview(org, policy_info_from(values)),
            "impact": change_impact(request, {"data_residency_policy": values}),
            "needs_approval": approvals.policy_needs_approval(org, current, values, apply),
        })
    try:
        # Members who may not change it still reach the service, so the attempt is audited.
        result = services.data_residency_policy_set(actor=request.actor, organization=org, values=values,
                                                    apply_to_workspaces=apply)
    except ValidationError as exc:
        add_service_errors(form, exc, field_map={"allowed_inference_geos": "allowed_geos"})
        return _page(request, state, form, status=400)
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return _page(request, state, form, status=403)
    if isinstance(result, ChangeRequest):
        return held_for_approval(request, result)
    text = "Saved the data residency policy; it applies to the very next request."
    if apply:
        text += " Workspaces that were outside it have been brought inside it (each change is in the audit log)."
    else:
        outside = len(policy_state(org).nonconforming)
        if outside:
            text += (f" {outside} workspace{'s are' if outside != 1 else ' is'} outside it: their requests are "
                     "kept inside it when routed, and they are listed below.")
    messages.success(request, text)
    return redirect("console:residency_policy")
