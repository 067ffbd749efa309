"""Settings → Privacy → Approvals and Change requests (SPEC §8): the approval setting, the
change requests (pending first, what would change as before → after, its cost), and the
confirmations to approve, reject or withdraw one.

Every change goes through `residency.services`; pending requests past their 72 hours are expired
before any of these pages reads them (`services.change_requests_expire`). `held_for_approval`
is the one way console pages say that a change was sent for approval instead of applied.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from audit import events
from audit.models import AuditEvent
from core.actor import Source
from core.errors import Conflict
from core.forms import add_service_errors, posted
from core.pagination import keyset_page
from orgs.models import Level
from orgs.views.base import console_page

from .. import approvals, selectors, services
from ..forms import ApprovalSettingsForm, ChangeRequestDecisionForm, ChangeRequestListForm
from ..models import ChangeRequest, ChangeStatus, ChangeTarget
from ..permissions import (
    access_change_request,
    can_see_approvals,
    can_turn_on_approvals,
    decision_refusal,
    is_requester,
    require_approval_settings,
    require_may_decide,
    require_may_withdraw,
)
from .impact import change_impact

HISTORY_PAGE = 25


def held_for_approval(request, change_request):
    """After a console change that was held: say so, and show the request."""
    messages.success(request, f"Sent for approval: {approvals.describe_target(change_request)} was not changed. "
                              "The change loosens data residency, so another person with Privacy: Can manage must "
                              "approve it within 72 hours; everyone who answers for residency has been emailed.")
    return redirect("console:change_request", change_request_id=change_request.pk)


def _expire_due(request):
    services.change_requests_expire(organization=request.access.organization, source=Source.CONSOLE)


@console_page
def approval_settings(request):
    """GET shows the setting; POST turns it on (the primary owner) or asks to turn it off."""
    access = request.access
    require_approval_settings(access)
    org = access.organization
    form = ApprovalSettingsForm(posted(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            value = form.cleaned_data["loosening_requires_approval"]
            try:
                result = services.approval_settings_set(actor=request.actor, organization=org,
                                                        loosening_requires_approval=value)
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
                status = 403
            else:
                if isinstance(result, ChangeRequest):
                    return held_for_approval(request, result)
                messages.success(request, "Approval of loosening changes is now on: a change that loosens data "
                                          "residency waits for another person's approval." if value else
                                 "Approval of loosening changes is off.")
                return redirect("console:approval_settings")
    current = selectors.approval_settings(org)
    pending = [cr for cr in selectors.pending_change_requests(org) if cr.target_type == ChangeTarget.APPROVAL_SETTINGS]
    return render(request, "console/approvals/settings.html", {
        "on": current.loosening_requires_approval,
        "can_turn_on": can_turn_on_approvals(access),
        "can_manage": access.can("privacy", Level.MANAGE),
        "pending": pending,
        "form": form,
    }, status=status)


@console_page
def change_requests(request):
    """Pending requests first (the next to expire on top), then the decided ones, newest first."""
    access = request.access
    _expire_due(request)
    visible = selectors.change_requests_visible_to(access)
    if not can_see_approvals(access) and not visible.exists():
        raise Http404("Not found.")
    pending = list(visible.filter(status=ChangeStatus.PENDING).order_by("expires_at", "pk"))
    form = ChangeRequestListForm(request.GET)
    form.is_valid()
    after_id = form.cleaned_data.get("after_id")
    try:
        history, has_more = keyset_page(visible.exclude(status=ChangeStatus.PENDING),
                                        {"limit": HISTORY_PAGE, "after_id": after_id},
                                        order_field="created_at", descending=True)
    except ValidationError:  # a cursor that is not in this list (any more): the first page
        return redirect("console:change_requests")
    return render(request, "console/approvals/list.html", {
        "pending": [_row(access, cr) for cr in pending],
        "history": [_row(access, cr) for cr in history],
        "next_id": history[-1].pk if history and has_more else None,
        "paged": bool(after_id),
        "approvals_on": selectors.approval_settings(access.organization).loosening_requires_approval,
    })


def _row(access, change_request):
    return {"cr": change_request, "what": approvals.describe_target(change_request),
            "changes": approvals.changes(change_request.before, change_request.after),
            "can_decide": change_request.is_pending and decision_refusal(access, change_request) is None,
            "mine": is_requester(access, change_request)}


@console_page
def change_request(request, change_request_id):
    access = request.access
    _expire_due(request)
    cr = access_change_request(access=access, id=change_request_id)
    refusal = decision_refusal(access, cr)
    return render(request, "console/approvals/detail.html", {
        **_row(access, cr),
        "refusal": refusal if cr.is_pending else None,
        "can_withdraw": cr.is_pending and is_requester(access, cr),
        "impact": _impact(request, cr) if cr.is_pending else None,
        "trail": _trail(cr),
    })


def _trail(change_request):
    """The request's own audit events, oldest first (by its id, an indexed target)."""
    rows = AuditEvent.objects.filter(organization_id=change_request.organization_id,
                                     target_id=change_request.pk).order_by("seq")
    return [{"event": event, "sentence": events.describe(event)} for event in rows]


ACTIONS = {
    "approve": ("Approve", "approved and applied"),
    "reject": ("Reject", "rejected"),
    "withdraw": ("Withdraw", "withdrawn"),
}


@console_page
def change_request_decide(request, change_request_id, action):
    """GET asks to confirm approving, rejecting or withdrawing; POST does it. Whoever may not gets
    a 403 page (a 404 when they cannot see the request); a request decided meanwhile, or whose
    target changed (a conflict), is said on the request's page."""
    access = request.access
    if action not in ACTIONS:
        raise Http404("Not found.")
    _expire_due(request)
    cr = access_change_request(access=access, id=change_request_id)
    form = ChangeRequestDecisionForm(posted(request))
    if request.method == "POST":
        # SPEC §2 order: invalid input is a 400 here; then the service refuses (403, audited) or decides
        if form.is_valid():
            try:
                _decide(request, cr, action, form.cleaned_data["reason"])
            except Conflict as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Change request {ACTIONS[action][1]}: {approvals.describe_target(cr)}.")
            return redirect("console:change_request", change_request_id=cr.pk)
        status = 400
    else:
        if action == "withdraw":
            require_may_withdraw(access, cr)
        else:
            require_may_decide(access, cr)
        if not cr.is_pending:
            messages.info(request, f"This change request is {cr.get_status_display().lower()}; nothing more to do.")
            return redirect("console:change_request", change_request_id=cr.pk)
        status = 200
    return render(request, "console/approvals/confirm.html", {
        **_row(access, cr), "action": action, "verb": ACTIONS[action][0], "form": form,
        "impact": _impact(request, cr) if action == "approve" else None,
    }, status=status)


def _decide(request, change_request, action, reason):
    org = request.access.organization
    if action == "approve":
        return services.change_request_approve(actor=request.actor, organization=org, change_request=change_request)
    if action == "reject":
        return services.change_request_reject(actor=request.actor, organization=org, change_request=change_request,
                                              reason=reason)
    return services.change_request_withdraw(actor=request.actor, organization=org, change_request=change_request)


def impact_change(change_request):
    """The change as `services.residency_impact_estimate` (through `change_impact`) prices it, or
    None (approval settings change no cost)."""
    after = change_request.after
    if change_request.target_type == ChangeTarget.INFERENCE_RESIDENCY:
        return {"us_only": after["us_only"]}
    if change_request.target_type == ChangeTarget.DATA_RESIDENCY_POLICY:
        return {"data_residency_policy": {k: after[k] for k in ("allowed_inference_geos", "default_inference_geo")}}
    if change_request.target_type == ChangeTarget.WORKSPACE:
        residency = after["data_residency"]
        return {"workspace": {"id": change_request.target_id, "data_residency": {
            k: residency[k] for k in ("allowed_inference_geos", "default_inference_geo")}}}
    return None


def _impact(request, change_request):
    """What the change would have cost over the last 30 days, as every confirmation of a residency
    change says it (`views.impact.change_impact`: the figure, or that it needs billing access);
    None when it has no cost (approval settings) or cannot be priced as it stands."""
    change = impact_change(change_request)
    if change is None:
        return None
    try:
        return change_impact(request, change)
    except (ValidationError, PermissionDenied, Http404):
        return None  # no longer valid as it stands: approving it will say why
