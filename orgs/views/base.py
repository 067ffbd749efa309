"""The console's page decorator: every console page is a member's page."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from core.actor import Source, actor_from_request

from ..permissions import Access, access_api_key, access_member, access_role
from ..selectors import current_membership, memberships_for_user

GENERIC_NOT_FOUND = {"Not found.", ""}

# Deep links into another of the person's organizations (issue 13). When a page answers 404 in
# the organization the console acts in, each URL parameter naming an object is looked up in the
# person's *other* organizations, through the same permission helpers that guard the page there:
# `finder(access, value)` returns what the object is ("a workspace") when that member could open
# it, else None. The page then offers to switch. Nobody learns anything about an organization
# they are not a member of, nor about an object their role there would not show them.
DEEP_LINK_FINDERS = {}


def deep_link_finder(param):
    """Register how a URL parameter's object is found for a member (see DEEP_LINK_FINDERS)."""

    def register(finder):
        DEEP_LINK_FINDERS[param] = finder
        return finder

    return register


def _visible(lookup, what):
    def finder(access, value):
        try:
            lookup(access, value)
        except Http404:
            return None
        except PermissionDenied:  # they can see it there, but not do this: still theirs to open
            pass
        return what

    return finder


deep_link_finder("user_id")(_visible(lambda access, v: access_member(access=access, user_id=v, hide=True), "a member"))
deep_link_finder("role_id")(_visible(lambda access, v: access_role(access=access, id=v, hide=True), "a role"))
deep_link_finder("key_id")(_visible(lambda access, v: access_api_key(access=access, id=v), "an API key"))


def _elsewhere(request, membership, kwargs):
    """(organization, what) for the first other organization of this person that shows the
    object the URL names, else None."""
    params = [(DEEP_LINK_FINDERS[k], v) for k, v in kwargs.items() if k in DEEP_LINK_FINDERS]
    if not params:
        return None
    for other in memberships_for_user(request.user):
        if other.organization_id == membership.organization_id:
            continue
        access = Access(request.user, other.organization, other)
        for finder, value in params:
            what = finder(access, value)
            if what:
                return other.organization, what
    return None


def console_page(view):
    """A signed-in member's page: sets `request.access` (their current organization) and
    `request.actor`. A 404 or 403 raised by a permission helper or a service is shown inside the
    console's layout with its message, which says what is missing. A 404 for an object that is in
    another of the person's organizations offers to switch there."""

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
            found = _elsewhere(request, membership, kwargs) if request.method == "GET" else None
            if found is not None:
                organization, what = found
                return render(request, "console/switch_offer.html", {
                    "organization": organization, "what": what, "next": request.get_full_path(),
                }, status=404)
            message = str(exc)
            return render(request, "404.html", {"message": None if message in GENERIC_NOT_FOUND else message},
                          status=404)
        except PermissionDenied as exc:
            return render(request, "403.html", {"message": str(exc) or None}, status=403)

    return wrapper
