"""Helpers shared by the console pages in `orgs/views_*.py`."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from .views import console_page

GENERIC_NOT_FOUND = {"Not found.", ""}


def member_page(view):
    """`console_page`, and a 404 / 403 raised by a permission helper or service is shown as the
    console's page with its message (which says what is missing), inside the layout."""

    @console_page
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            message = str(exc)
            return render(request, "404.html", {"message": None if message in GENERIC_NOT_FOUND else message},
                          status=404)
        except PermissionDenied as exc:
            return render(request, "403.html", {"message": str(exc) or None}, status=403)

    return wrapper
