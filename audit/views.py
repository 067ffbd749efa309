"""Console pages for the audit log: the filtered history, its exports and chain verification.

Read-only by design: nothing here changes an event (there is no path that could).
"""

from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from orgs.views.base import console_page

from . import checkpoints as signed
from .chain import chain_head, verify_chain
from .events import changes, describe, requested
from .export import streaming_export
from .forms import AuditFilterForm
from .permissions import audit_scope
from .selectors import audit_events, audit_filter_choices, audit_names, audit_page
from .signing import checkpoint_dir, newest_checkpoint, verify_key

PAGE_SIZE = 50


@dataclass
class AuditRow:
    event: object
    sentence: str
    changes: list


@console_page
@require_GET
def audit_log(request):
    """Newest first, 50 a page, keyset by seq (`older_than` / `newer_than`). Filters that do not
    make sense show their errors next to the fields, and no events."""
    scope = audit_scope(request.access)
    names = audit_names(scope.organization)
    form = AuditFilterForm(request.GET, scope=scope, choices=audit_filter_choices(scope, names))
    rows, has_older, has_newer, valid = [], False, False, form.is_valid()
    if valid:
        events, has_older, has_newer = audit_page(
            scope, form.filters(), limit=PAGE_SIZE,
            older_than=form.cleaned_data["older_than"], newer_than=form.cleaned_data["newer_than"],
        )
        rows = [AuditRow(e, describe(e, names), requested(e, names) if e.outcome == "denied" else changes(e, names))
                for e in events]
    return render(request, "console/audit_log.html", {
        "scope": scope,
        "form": form,
        "valid": valid,
        "rows": rows,
        "has_older": has_older and rows,
        "has_newer": has_newer and rows,
        "older_than": rows[-1].event.seq if rows else None,
        "newer_than": rows[0].event.seq if rows else None,
        "query": form.query() if valid else "",
        "filters_active": valid and form.filters().active,
        "organization": scope.organization,
        "head": chain_head(scope.organization.pk),
        **(_integrity(scope.organization) if scope.can_verify else {}),
    })


MAX_FAULTS_SHOWN = 1000


def _integrity(organization):
    """The integrity panel's checkpoint: the newest one, its signature checked (files only)."""
    checkpoint, problem = newest_checkpoint(organization.pk)
    return {"checkpoint": checkpoint, "checkpoint_problem": problem}


@console_page
@require_GET
def audit_log_export(request, fmt):
    """The whole filtered history as a streamed CSV or JSON download; filters that do not make
    sense go back to the log page, which says what to fix."""
    scope = audit_scope(request.access)
    form = AuditFilterForm(request.GET, scope=scope)
    if not form.is_valid():
        return redirect(f"{reverse('console:audit_log')}?{request.GET.urlencode()}")
    return streaming_export(audit_events(scope, form.filters()), audit_names(scope.organization),
                            scope.organization, fmt)


@console_page
@require_http_methods(["GET", "POST"])
def audit_verify(request):
    """Verify the organization's hash chain and its signed checkpoints on demand (a full walk:
    seconds at a million events); every bad record is listed with what is wrong with it."""
    scope = audit_scope(request.access)
    if not scope.can_verify:
        raise Http404("Not found.")
    report, key_problem = None, ""
    if request.method == "POST":
        try:
            key = verify_key()
        except signed.KeyFileError as exc:
            key, key_problem = None, str(exc)
        loaded = signed.load(checkpoint_dir(), scope.organization.pk, key)
        report = verify_chain(scope.organization, checkpoints=loaded)
    return render(request, "console/audit_verify.html", {
        "scope": scope, "report": report, "organization": scope.organization,
        "head": chain_head(scope.organization.pk), "key_problem": key_problem,
        "faults": report.faults[:MAX_FAULTS_SHOWN] if report else [],
        "more_faults": report.fault_count - min(len(report.faults), MAX_FAULTS_SHOWN) if report else 0,
        **_integrity(scope.organization),
    })
