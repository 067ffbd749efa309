"""Approval of loosening changes (SPEC §8): what the residency services do, inside their own
transaction, when a change loosens residency (`policy.loosens`) and the organization asks for a
second person's approval, and the emails to the people who answer for residency.

- `required(organization)`: whether loosening changes wait for approval (read under the
  organization lock the services hold).
- `hold(...)`: the change becomes a pending `ChangeRequest` instead of being applied; audited
  (`change_request.requested`) and emailed in the same transaction.
- `attribution(change_request)`: the audit fields that record the requester and the request on a
  change applied on approval.
- `notify_change(...)`, `notify_outcome(...)`: emails to every owner and `privacy: manage`
  member, queued in the transaction and sent after it commits (`orgs.mail`): a failed send never
  fails the change.

The services that approve, reject, withdraw and expire requests are in `residency.services`.
"""

from datetime import timedelta
from types import SimpleNamespace

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from audit import events
from audit.services import audit_record
from orgs import mail
from orgs.models import Level, User, Workspace

from .models import ApprovalSettings, ChangeRequest, ChangeStatus, ChangeTarget, Geo
from .policy import loosens, policy_change_loosens

EXPIRES_AFTER = timedelta(hours=72)
OUTCOME_EVENTS = {
    ChangeStatus.APPLIED: events.CHANGE_REQUEST_APPLIED,
    ChangeStatus.REJECTED: events.CHANGE_REQUEST_REJECTED,
    ChangeStatus.WITHDRAWN: events.CHANGE_REQUEST_WITHDRAWN,
    ChangeStatus.EXPIRED: events.CHANGE_REQUEST_EXPIRED,
    ChangeStatus.CONFLICT: events.CHANGE_REQUEST_CONFLICT,
}
OUTCOME_WORDS = {
    ChangeStatus.APPLIED: "was approved and applied",
    ChangeStatus.REJECTED: "was rejected",
    ChangeStatus.WITHDRAWN: "was withdrawn",
    ChangeStatus.EXPIRED: "expired: nobody approved it within 72 hours",
    ChangeStatus.CONFLICT: "was approved but not applied, because the setting changed after it was asked",
}


def required(organization):
    """Whether loosening changes wait for a second person's approval in `organization`."""
    return ApprovalSettings.objects.filter(organization_id=organization.pk, loosening_requires_approval=True).exists()


def needs_approval(organization, before, after):
    """Whether this change would be held (for a confirmation to say so before it is made)."""
    return loosens(before, after) and required(organization)


def policy_loosens(organization, before, after, apply_to_workspaces):
    """`policy.policy_change_loosens` for `organization` and its live workspaces (a policy change
    moves the requests of a workspace it leaves outside, brought inside or not). Two queries."""
    workspaces = Workspace.objects.filter(organization_id=organization.pk, archived_at__isnull=True) \
        .values_list("allowed_inference_geos", "default_inference_geo")
    inference_geos = tuple(Geo.objects.filter(inference=True).values_list("code", flat=True))
    return policy_change_loosens(before, after, workspaces=workspaces, apply_to_workspaces=apply_to_workspaces,
                                 inference_geos=inference_geos)


def policy_needs_approval(organization, before, after, apply_to_workspaces):
    """Whether this change of the organization policy would be held (for its confirmation)."""
    return required(organization) and policy_loosens(organization, before, after, apply_to_workspaces)


def hold(*, actor, access, organization, target_type, target_id, target_label, before, after, arguments):
    """Keep a loosening change as a pending request (72 hours) instead of applying it: the
    request, its audit record and the emails to the people who answer for residency, all in the
    caller's transaction. Returns the `ChangeRequest`."""
    now = timezone.now()
    requester = actor.user  # a key's member; None for a command
    change_request = ChangeRequest.objects.create(
        requested_through_key_of_id=access.key_creator_id or None,  # who minted the key, when not its member
        organization_id=organization.pk, target_type=target_type, target_id=str(target_id),
        target_label=str(target_label)[:300], before=before, after=after, arguments=arguments,
        requested_by=requester, requested_by_label=actor.label if requester is None else requester.display_name,
        created_at=now, expires_at=now + EXPIRES_AFTER,
    )
    audit_record(actor=actor, organization=organization, event=events.CHANGE_REQUEST_REQUESTED,
                 target=_target(change_request), before=before, after=after, role=access.role_name,
                 requested_by=requester, change_request_id=change_request.pk)
    _email_everyone(organization, f"Approval needed: {describe_target(change_request)}",
                    "email/change_request.txt", {"change_request": change_request, "pending": True})
    return change_request


def attribution(change_request):
    """`audit_record` arguments for a change applied on approval: who asked for it, and which
    request it was (none for a direct change)."""
    if change_request is None:
        return {}
    return {"requested_by": change_request.requested_by, "change_request_id": change_request.pk}


def record_outcome(*, actor, organization, change_request, status, role="", reason=""):
    """Move a pending request to `status`, audit it (the requester recorded beside the actor) and
    email the outcome, in the caller's transaction. The caller holds the request's row lock."""
    change_request.status = status
    change_request.decided_at = timezone.now()
    if actor.user is not None:
        change_request.decided_by = actor.user
        change_request.decided_by_label = actor.user.display_name
    change_request.outcome_message = reason[:2000]
    change_request.save(update_fields=["status", "decided_at", "decided_by", "decided_by_label", "outcome_message"])
    after = {"status": str(status)}
    if reason:
        after["reason"] = reason[:500]
    audit_record(actor=actor, organization=organization, event=OUTCOME_EVENTS[status],
                 target=_target(change_request), before={"status": ChangeStatus.PENDING.value}, after=after,
                 role=role, requested_by=change_request.requested_by, change_request_id=change_request.pk)
    what = describe_target(change_request)
    _email_everyone(organization, f"{what[0].upper()}{what[1:]}: {status_word(status)}", "email/change_request.txt",
                    {"change_request": change_request, "pending": False, "outcome": OUTCOME_WORDS[status],
                     "reason": reason})


def notify_change(*, actor, organization, what, before, after, path):
    """Email everyone who answers for residency that `what` changed (a change applied without a
    request: approvals off, or a tightening change)."""
    _email_everyone(organization, f"{what[0].upper()}{what[1:]} changed", "email/residency_change.txt", {
        "what": what, "actor": actor.label, "rows": changes(before, after), "link": mail.base_url() + path})


# --- words ------------------------------------------------------------------------------------


def describe_target(change_request):
    """'US-only inference', 'workspace Production', 'the data residency policy', ..."""
    return {
        ChangeTarget.INFERENCE_RESIDENCY: "US-only inference",
        ChangeTarget.DATA_RESIDENCY_POLICY: "the data residency policy",
        ChangeTarget.WORKSPACE: f"workspace {change_request.target_label}",
        ChangeTarget.APPROVAL_SETTINGS: "approval of loosening changes",
    }.get(change_request.target_type, change_request.target_label)


def status_word(status):
    return {ChangeStatus.APPLIED: "approved and applied", ChangeStatus.CONFLICT: "not applied"}.get(
        status, ChangeStatus(status).label.lower())


def changes(before, after):
    """[(field, before, after)] in the audit log's words."""
    return events.changes(SimpleNamespace(before=before, after=after))


def change_request_path(change_request):
    return reverse("console:change_request", args=[change_request.pk])


def console_path(name, *args):
    """A console page's path; pages another part of the console adds later fall back to the
    change requests page."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return reverse("console:change_requests")


# --- email ------------------------------------------------------------------------------------


def recipients(organization):
    """Every active member who answers for residency: owners and everyone whose role has
    Privacy: manage (one query)."""
    return list(User.objects.filter(
        Q(memberships__organization_id=organization.pk) & Q(memberships__role__privacy=Level.MANAGE),
        is_active=True).order_by("email").distinct())


def _email_everyone(organization, subject, template, context):
    context = {**context, "organization_name": organization.name}
    change_request = context.get("change_request")
    if change_request is not None:
        context.update(what=describe_target(change_request), rows=changes(change_request.before, change_request.after),
                       link=mail.base_url() + change_request_path(change_request))
    body = render_to_string(template, context)
    for user in recipients(organization):
        mail.queue_notice(user=user, organization=organization, subject=f"[{organization.name}] {subject}",
                          body=body)


def _target(change_request):
    return ("change_request", change_request.pk, describe_target(change_request))
