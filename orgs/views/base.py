"""The console's page decorator: every console page is a member's page."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from core.actor import Source, actor_from_request

from ..permissions import Access
from ..selectors import current_membership

GENERIC_NOT_FOUND = {"Not found.", ""}


def console_page(view):
    """A signed-in member's page: sets `request.access` (their current organization) and
    `request.actor`. A 404 or 403 raised by a permission helper or a service is shown inside the
    console's layout with its message, which says what is missing."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = current_membership(request)
        if membership is None:
            return render(request, "console/no_organization.html", status=403)
        request.access = Access(request.user, membership.organization, membership)
        request.actor = actor_from_request(request, source=Source.CONSOLE)
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            message = str(exc)
            return render(request, "404.html", {"message": None if message in GENERIC_NOT_FOUND else message},
                          status=404)
        except PermissionDenied as exc:
            return render(request, "403.html", {"message": str(exc) or None}, status=403)

    return wrapper
